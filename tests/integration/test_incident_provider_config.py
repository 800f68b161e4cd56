"""`statuspage:` and `paging:` config: validation, missing secrets, the provider factories."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.settings import ConfigError, Settings, load_settings
from bot.providers.paging.factory import build_pager
from bot.providers.paging.pagerduty import PagerDutyPager
from bot.providers.statuspage.atlassian import AtlassianStatusPage
from bot.providers.statuspage.builtin import BuiltinStatusPage
from bot.providers.statuspage.factory import build_status_providers
from bot.providers.statuspage.webhook import WebhookStatusPage
from bot.store.database import Database
from tests.conftest import NO_GATES
from tests.test_cli import run, write_config

PLANS = Path(__file__).resolve().parents[2] / "config" / "plans"
FULL = (
    NO_GATES
    + f"""
rollouts:
  plans_dir: {PLANS}
statuspage:
  providers:
    - type: statuspage
      page_id: pg1
      api_key_env: SP_KEY
      components: {{API: cmp_api}}
    - type: webhook
      url_env: HOOK_URL
      hmac_secret_env: HOOK_SECRET
    - type: builtin
      components: [API]
paging:
  pagerduty:
    escalation_policy_id: PEP1
    routing_key_env: PD_ROUTING
    api_token_env: PD_TOKEN
    webhook_secret_env: PD_HOOK
    from_email: rollbot@example.com
"""
)
ENV = {
    "SP_KEY": "sp-key",
    "HOOK_URL": "https://hooks.example.com/T/x",
    "HOOK_SECRET": "h",
    "PD_ROUTING": "R1",
    "PD_TOKEN": "T1",
    "PD_HOOK": "W1",
}


def settings(tmp_path: Path, body: str, env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "rollbot.yaml"
    path.write_text(body, encoding="utf-8")
    return load_settings(
        env={"DATABASE_URL": f"sqlite:///{tmp_path}/r.db", **(env or {})}, config_path=path
    )


def problems(tmp_path: Path, body: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        settings(tmp_path, NO_GATES + f"rollouts:\n  plans_dir: {PLANS}\n" + body)
    return [str(p.problem) for p in raised.value.problems]


def test_defaults_are_the_builtin_page_and_no_paging(tmp_path: Path) -> None:
    s = settings(tmp_path, NO_GATES + f"rollouts:\n  plans_dir: {PLANS}\n")
    db = Database(s.database_url)
    try:
        [page] = build_status_providers(s, db)
        assert isinstance(page, BuiltinStatusPage) and page.name == "builtin"
        assert build_pager(s) is None
    finally:
        db.dispose()


def test_providers_are_built_in_order_with_secrets_from_the_environment(tmp_path: Path) -> None:
    s = settings(tmp_path, FULL, ENV)
    db = Database(s.database_url)
    try:
        primary, webhook, builtin = build_status_providers(s, db)
        assert isinstance(primary, AtlassianStatusPage) and primary.name == "statuspage:pg1"
        assert primary.components == {"API": "cmp_api"}
        assert (
            isinstance(webhook, WebhookStatusPage) and webhook.name == "webhook:hooks.example.com"
        )
        assert isinstance(builtin, BuiltinStatusPage)
        pager = build_pager(s)
        assert isinstance(pager, PagerDutyPager)
        assert pager.escalation_policy_id == "PEP1"
        assert pager.rest.headers["from"] == "rollbot@example.com"
        assert pager.rest.auth_method.secret == "T1" and pager.events.auth_method.secret == "R1"
    finally:
        db.dispose()


def test_missing_secrets_are_config_errors_naming_key_and_variable(tmp_path: Path) -> None:
    s = settings(tmp_path, FULL, {"HOOK_URL": "https://x.example.com", "PD_HOOK": "w"})
    db = Database(s.database_url)
    try:
        with pytest.raises(ConfigError) as raised:
            build_status_providers(s, db)
        assert [str(p.problem) for p in raised.value.problems] == [
            "statuspage.providers.0.api_key_env: environment variable SP_KEY is not set "
            "(hint: export SP_KEY before starting rollbot (secrets never go in the config))",
            "statuspage.providers.1.hmac_secret_env: environment variable HOOK_SECRET is not "
            "set (hint: export HOOK_SECRET before starting rollbot (secrets never go in the "
            "config))",
        ]
        with pytest.raises(ConfigError) as raised:
            build_pager(s)
        paths = [p.problem.path for p in raised.value.problems]
        assert paths == ["paging.pagerduty.routing_key_env", "paging.pagerduty.api_token_env"]
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "statuspage:\n  providers:\n    - type: statuspage\n      page_id: p\n"
            "      api_key_env: 'sk live 123'\n",
            "statuspage.providers.0.statuspage.api_key_env: must be the NAME of an environment "
            "variable",
        ),
        (
            "statuspage:\n  providers:\n    - type: webhook\n",
            "statuspage.providers.0.webhook: give exactly one of url or url_env",
        ),
        (
            "statuspage:\n  providers:\n    - type: webhook\n      url: ftp://x\n",
            "statuspage.providers.0.webhook.url: 'ftp://x' is not an http(s) URL",
        ),
        ("statuspage:\n  providers:\n    - type: carrier-pigeon\n", "statuspage.providers.0: "),
        (
            "statuspage:\n  providers:\n    - type: builtin\n    - type: builtin\n",
            "statuspage: providers: the builtin page is listed twice",
        ),
        ("statuspage:\n  providers: []\n", "statuspage.providers: "),
        (
            "statuspage:\n  providers:\n    - type: statuspage\n",
            "statuspage.providers.0.statuspage.page_id: Field required (hint: add this key)",
        ),
        ("paging:\n  pagerduty: {}\n", "paging.pagerduty.escalation_policy_id: "),
        (
            "paging:\n  pagerduty:\n    escalation_policy_id: P\n"
            "    api_url: http://api.pagerduty.com\n",
            "paging.pagerduty.api_url: 'http://api.pagerduty.com': PagerDuty URLs must start "
            "with https://",
        ),
        ("paging:\n  opsgenie: {}\n", "paging.opsgenie: "),
    ],
)
def test_invalid_sections_are_reported_with_key_paths(
    tmp_path: Path, body: str, expected: str
) -> None:
    found = problems(tmp_path, body)
    assert any(p.startswith(expected) for p in found), found


def test_a_pasted_secret_is_never_echoed(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "paging:\n  pagerduty:\n    escalation_policy_id: P\n    api_token_env: u+abc/SECRET=\n",
    )
    assert found and all("u+abc/SECRET=" not in p for p in found)
    assert "hint: e.g. STATUSPAGE_API_KEY" in found[0]


def test_config_check_reports_unset_secret_variables(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, FULL)
    result = run(["config", "check", "--config", str(cfg)], tmp_path, env={"SP_KEY": "k"})
    assert result.returncode == 1
    out = result.stdout
    assert f"{cfg}: paging.pagerduty.routing_key_env: environment variable PD_ROUTING" in out
    assert "statuspage.providers.1.url_env: environment variable HOOK_URL is not set" in out
    assert "SP_KEY is not set" not in out
    assert "Traceback" not in out + result.stderr


def test_config_check_lists_the_incident_providers_when_all_is_set(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, FULL)
    result = run(["config", "check", "--config", str(cfg)], tmp_path, env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "Status page: statuspage (page pg1) then webhook then builtin; "
        "paging: PagerDuty (escalation policy PEP1)"
    ) in result.stdout
