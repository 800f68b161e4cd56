"""The metrics and rollback config sections: validated with key paths, secrets from env."""

from __future__ import annotations

from pathlib import Path

from bot.config.settings import ConfigError, load_settings

PLANS = Path(__file__).resolve().parents[2] / "config" / "plans"
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "rollbot.example.yaml"


def load(tmp_path: Path, yaml_text: str, env: dict[str, str] | None = None) -> list[str]:
    config = tmp_path / "c.yaml"
    config.write_text(f"rollouts:\n  plans_dir: {PLANS}\n" + yaml_text, encoding="utf-8")
    try:
        load_settings(env=env or {}, config_path=config)
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_a_token_named_in_config_must_be_in_the_environment(tmp_path: Path) -> None:
    text = "metrics:\n  provider: prometheus\n  url: http://p:9090\n  token_env: PROM_TOKEN\n"
    (problem,) = load(tmp_path, text)
    assert "metrics: the environment variable PROM_TOKEN named here is not set" in problem
    assert load(tmp_path, text, {"PROM_TOKEN": "x"}) == []


def test_bad_metrics_and_rollback_sections(tmp_path: Path) -> None:
    (problem,) = load(tmp_path, "metrics:\n  provider: datadog\n")
    assert "metrics.provider" in problem
    (problem,) = load(tmp_path, "metrics:\n  provider: http_json\n")
    assert "needs a url" in problem
    (problem,) = load(tmp_path, "metrics:\n  evaluation_seconds: 0\n")
    assert "metrics.evaluation_seconds" in problem
    (problem,) = load(tmp_path, "rollback:\n  notify_roles: [ops]\n")
    assert "rollback.notify_roles: unknown role 'ops'" in problem


def test_the_example_config_loads() -> None:
    settings = load_settings(env={}, config_path=EXAMPLE)
    assert settings.config.metrics.evaluation_seconds == 15
    # The quick start runs on the example without a Prometheus to ask (issue 11).
    assert settings.config.metrics.provider == "none"
    assert settings.config.rollback.notify_roles == ["ops_lead"]
