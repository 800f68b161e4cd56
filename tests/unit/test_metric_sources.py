"""Which provider answers a condition: the default one, or an sql database by name; and a
condition whose provider is not configured is not armed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.settings import load_settings
from bot.domain.triggers import MetricSource
from bot.providers.metrics.base import MetricsProviderError, NoMetrics
from bot.providers.metrics.factory import build_databases, build_metric_sources
from bot.providers.metrics.sources import MetricSources
from tests.fakes.metrics import FakeMetrics

SQL = MetricSource("sql")


def sources(tmp_path: Path, yaml_text: str, env: dict[str, str]) -> MetricSources:
    plans = tmp_path / "plans"
    plans.mkdir(exist_ok=True)
    config = tmp_path / "rollbot.yaml"
    config.write_text(f"rollouts:\n  plans_dir: {plans}\n" + yaml_text, encoding="utf-8")
    settings = load_settings(env=env, config_path=config)
    return build_metric_sources(
        settings.config, settings.env, build_databases(settings.config, settings.env)
    )


def test_the_default_answers_conditions_without_a_provider() -> None:
    fake = FakeMetrics()
    fake.set("up", 1.0)
    both = MetricSources(fake, {"rt": NoMetrics()}, sql_default="rt")
    assert both.ask(MetricSource(), "up") == 1.0
    assert both.provider(SQL) is both.sql["rt"]
    assert both.provider(MetricSource("sql", "other")) is None
    assert not both.configured(MetricSource("prometheus"))  # the default here is "fake"
    with pytest.raises(MetricsProviderError, match="prometheus is not configured"):
        both.ask(MetricSource("prometheus"), "up")
    nothing = MetricSources(NoMetrics())
    assert not nothing.enabled and not nothing.configured(MetricSource())


def test_sql_databases_from_the_config(tmp_path: Path) -> None:
    text = (
        "metrics:\n  sql:\n    database: realtime\n"
        "databases:\n  realtime:\n    url_env: RT_URL\n  analytics:\n    url_env: AN_URL\n"
    )
    found = sources(tmp_path, text, {"RT_URL": f"sqlite:///{tmp_path}/rt.db"})
    assert found.enabled and found.name == "sql"  # metrics.provider none: sql only
    assert found.configured(SQL) and found.configured(MetricSource("sql", "realtime"))
    # analytics has no URL here: its conditions are not armed.
    assert not found.configured(MetricSource("sql", "analytics"))
    assert not found.configured(MetricSource())  # no default provider
    assert found.ask(SQL, "SELECT 41 + 1") == 42


def test_metrics_provider_sql_makes_every_query_sql(tmp_path: Path) -> None:
    text = "metrics:\n  provider: sql\n  sql:\n    url_env: APP_DATABASE_URL\n"
    found = sources(tmp_path, text, {"APP_DATABASE_URL": f"sqlite:///{tmp_path}/app.db"})
    assert found.configured(MetricSource()) and found.name == "sql"
    assert found.ask(MetricSource(), "SELECT 7") == 7
    assert found.sql_default == "default"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("metrics:\n  provider: sql\n", "the sql provider needs a database"),
        ("metrics:\n  sql:\n    database: nope\n", "unknown database 'nope'"),
        (
            "databases:\n  rt:\n    url_env: postgresql://u:pw@db/rt\n",
            "must be the NAME of an environment variable",
        ),
        (
            "metrics:\n  sql:\n    database: rt\n    url_env: X\n"
            "databases:\n  rt:\n    url_env: RT\n",
            "give exactly one of database or url_env",
        ),
    ],
)
def test_bad_sql_config_is_refused_with_its_key(tmp_path: Path, text: str, said: str) -> None:
    from bot.config.settings import ConfigError

    with pytest.raises(ConfigError) as refused:
        sources(tmp_path, text, {})
    assert said in str(refused.value)
    assert "pw@db" not in str(refused.value)  # a pasted URL is not echoed back
