"""The dashboard's data and its page, on SQLite and PostgreSQL: what it shows, a fixed
number of queries however many rollouts and incidents, and who may open it."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from bot.clock import ManualClock
from bot.config.settings import ConfigError, Settings, load_settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.domain.incident import Severity
from bot.web.app import create_app
from tests.conftest import API_TOKEN, NO_GATES, PLANS_DIR
from tests.fakes.metrics import FakeMetrics

ALICE = Actor("U_ALICE", Via.SLACK)
FLAG = "realtime-features"
# The shipped plan's error-rate trigger.
ERROR_RATE = 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'


def no_sleep(_seconds: float) -> None:
    """Runbook retries do not wait in tests."""


ROLES = """
roles:
  eng_lead: {name: Engineering Lead, members: [U0ENG]}
  product_manager: {name: Product Manager, members: [U0PM]}
  security_lead: {name: Security Lead, members: [U0SEC]}
  ops_lead: {name: Operations Lead, members: [U0OPS]}
  cto: {name: CTO, members: [U0CTO]}
signoff:
  enforce_gates: true
"""


@contextmanager
def counted(rollbot: Rollbot) -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    statements: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(rollbot.db.engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(rollbot.db.engine, "before_cursor_execute", note)


def test_rollouts_their_history_triggers_and_incidents(
    settings: Settings, clock: ManualClock
) -> None:
    metrics = FakeMetrics()
    rollbot = build(settings, clock, metrics=metrics, sleep=no_sleep)
    try:
        rollbot.rollouts.start(FLAG, None, ALICE)
        clock.advance(timedelta(minutes=1))
        rollbot.rollouts.advance(FLAG, ALICE)
        clock.advance(timedelta(minutes=1))
        rollbot.rollouts.set_percentage(FLAG, 9, ALICE)
        rollbot.rollouts.start("search-v2", None, ALICE)
        rollbot.rollback.roll_back("search-v2", ALICE, "search is slow")
        metrics.set(ERROR_RATE, 0.5)
        rollbot.watcher.evaluate()
        declared = rollbot.incidents.declare(Severity.SEV1, "Checkout <b>down</b>", ALICE)
        view = rollbot.dashboard.view()
    finally:
        rollbot.db.dispose()
    (active,) = view.active
    assert active.view.flag_key == FLAG
    assert [(p.change, p.percentage) for p in active.history] == [
        ("started", 0),
        ("advanced", 0),  # the shipped plan's staff step: the internal segment at 100%
        ("set by hand", 9),
    ]
    assert active.view.phase_name == "Phase 2: Limited Beta"
    readings = {t.name: t for t in active.triggers}
    assert set(readings) == {
        "error-rate",
        "p95-latency",
        "connection-success",
        "memory",
        "cpu",
        "connection-storm",  # the risk-specific triggers of the shipped plan
        "state-sync-conflicts",
    }
    assert readings["error-rate"].value == 0.5 and readings["error-rate"].breaching
    assert readings["error-rate"].threshold == 0.01
    assert readings["cpu"].value is None
    (recent,) = view.recent
    assert recent.view.flag_key == "search-v2"
    assert recent.rollback is not None and recent.rollback.reason == "search is slow"
    assert [p.change for p in recent.history][-1] == "rolled back"
    (incident,) = view.incidents
    assert incident.view.id == declared.view.id
    assert incident.view.title == "Checkout <b>down</b>" and incident.view.severity == "sev1"
    assert incident.status_page is not None and incident.status_page.state == "draft"
    assert not incident.status_page.late
    assert incident.timeline[0].kind == "declared"
    assert len(incident.timeline) <= settings.config.dashboard.timeline_entries


def test_the_first_status_update_shows_late_when_its_deadline_passed(
    settings: Settings, clock: ManualClock
) -> None:
    rollbot = build(settings, clock)
    try:
        rollbot.incidents.declare(Severity.SEV2, "Slow search", ALICE)
        clock.advance(timedelta(minutes=6))  # past the five minutes, nobody ran the tick
        (incident,) = rollbot.dashboard.view().incidents
    finally:
        rollbot.db.dispose()
    assert incident.status_page is not None and incident.status_page.late


def test_pending_signoffs_name_the_role_and_who_holds_it(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> None:
    rollbot = build(settings_factory(database_url, ROLES), clock)
    try:
        rollbot.rollouts.start(FLAG, None, ALICE)
        assert rollbot.signoffs is not None
        rollbot.signoffs.requests.tick()  # asks the first signer of the chain
        view = rollbot.dashboard.view()
    finally:
        rollbot.db.dispose()
    (active,) = view.active
    assert view.pending_signoffs == len(active.signoffs) >= 1
    first = active.signoffs[0]
    assert (first.role_name, first.holders) == ("Engineering Lead", ("U0ENG",))
    assert first.asked_at is not None


def test_a_fixed_number_of_queries_however_many_rollouts_and_incidents(
    settings: Settings, clock: ManualClock
) -> None:
    rollbot = build(settings, clock, sleep=no_sleep)

    def add(rollouts: range, incidents: int) -> None:
        for n in rollouts:
            flag = f"flag-{n}"
            rollbot.rollouts.start(flag, None, ALICE)
            rollbot.rollouts.advance(flag, ALICE)
            if n == 0:
                rollbot.rollback.roll_back(flag, ALICE, "bad")
        for n in range(incidents):
            rollbot.incidents.declare(Severity.SEV3, f"incident {n}", ALICE, page=False)

    try:
        add(range(10), 1)
        with counted(rollbot) as few:
            small = rollbot.dashboard.view()
        add(range(10, 60), 4)
        with counted(rollbot) as many:
            large = rollbot.dashboard.view()
    finally:
        rollbot.db.dispose()
    assert len(small.active) + len(small.recent) > 5
    assert len(large.active) > len(small.active) and len(large.incidents) == 5
    assert len(many) == len(few) <= 10, many


# -- who may open it -------------------------------------------------------------------


def client(rollbot: Rollbot, host: str) -> TestClient:
    return TestClient(create_app(rollbot, host=host), follow_redirects=False)


@pytest.fixture
def bot(tmp_path: Path, clock: ManualClock) -> Iterator[Callable[..., Rollbot]]:
    """Build a rollbot (SQLite) with extra config and environment."""
    built: list[Rollbot] = []

    def make(extra_yaml: str = "", env: dict[str, str] | None = None) -> Rollbot:
        config = tmp_path / f"auth-{len(built)}.yaml"
        config.write_text(
            f"rollouts:\n  plans_dir: {PLANS_DIR}\n  default_plan: realtime-features\n"
            + NO_GATES
            + extra_yaml,
            encoding="utf-8",
        )
        url = f"sqlite:///{tmp_path}/auth-{len(built)}.db"
        settings = load_settings(
            env={"DATABASE_URL": url, "ROLLBOT_API_TOKEN": API_TOKEN, **(env or {})},
            config_path=config,
        )
        rollbot = build(settings, clock)
        built.append(rollbot)
        return rollbot

    yield make
    for rollbot in built:
        rollbot.db.dispose()


TOKEN_YAML = "dashboard:\n  auth:\n    token_env: ROLLBOT_DASHBOARD_TOKEN\n"
BASIC_YAML = "dashboard:\n  auth:\n    basic: {user_env: DASH_USER, password_env: DASH_PASSWORD}\n"


def test_on_loopback_the_dashboard_needs_no_login(bot: Callable[..., Rollbot]) -> None:
    rollbot = bot()
    rollbot.rollouts.start(FLAG, None, ALICE)
    for host in ("127.0.0.1", "localhost", "::1"):
        web = client(rollbot, host)
        page = web.get("/")
        assert page.status_code == 200, host
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text
        assert f'data-flag="{FLAG}">0%</strong>' in page.text
        assert web.get("/dashboard/fragment").status_code == 200
    # Without a metrics provider the triggers say why they have no value.
    assert "not measured (metrics.provider: none)" in page.text


def test_elsewhere_without_auth_it_is_shut_and_says_how_to_open_it(
    bot: Callable[..., Rollbot],
) -> None:
    web = client(bot(), "0.0.0.0")
    for path in ("/", "/dashboard/fragment"):
        response = web.get(path)
        assert response.status_code == 403
        assert "dashboard.auth" in response.text and "ROLLBOT_DASHBOARD_TOKEN" in response.text
    # The other routes keep their own rules.
    assert web.get("/healthz").status_code == 200
    assert web.get("/metrics").status_code == 200
    assert web.get("/status").status_code == 200
    assert web.get("/status.json").status_code == 200
    assert web.get("/flags/nosuchflag").status_code == 404


def test_a_bearer_token_or_a_token_once_then_a_cookie(bot: Callable[..., Rollbot]) -> None:
    rollbot = bot(TOKEN_YAML, {"ROLLBOT_DASHBOARD_TOKEN": "s3cret-dash"})
    assert "ROLLBOT_DASHBOARD_TOKEN" in rollbot.settings.secret_names()
    web = client(rollbot, "0.0.0.0")
    missing = web.get("/")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "s3cret-dash" not in missing.text
    assert web.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert web.get("/?token=wrong").status_code == 401
    assert web.get("/", headers={"Authorization": "Bearer s3cret-dash"}).status_code == 200
    fragment = web.get("/dashboard/fragment", headers={"Authorization": "Bearer s3cret-dash"})
    assert fragment.status_code == 200

    first = web.get("/?token=s3cret-dash")
    assert first.status_code == 303
    assert first.headers["location"] == "/"  # the token leaves the address bar
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "s3cret-dash" not in cookie  # a keyed hash of it, not the token
    assert web.get("/").status_code == 200  # the client keeps the cookie
    assert web.get("/dashboard/fragment").status_code == 200
    # Not the other routes' key: /flags writes still need ROLLBOT_API_TOKEN.
    assert web.post("/flags/x", json={"enabled": True}).status_code == 401
    # A cookie made for another token is refused.
    other = client(rollbot, "0.0.0.0")
    other.cookies.set("rollbot_dashboard", "0" * 64)
    assert other.get("/").status_code == 401


def test_auth_once_configured_is_asked_on_loopback_too(bot: Callable[..., Rollbot]) -> None:
    rollbot = bot(TOKEN_YAML, {"ROLLBOT_DASHBOARD_TOKEN": "s3cret-dash"})
    assert client(rollbot, "127.0.0.1").get("/").status_code == 401


def test_http_basic(bot: Callable[..., Rollbot]) -> None:
    rollbot = bot(BASIC_YAML, {"DASH_USER": "ops", "DASH_PASSWORD": "pa55word"})
    assert {"DASH_USER", "DASH_PASSWORD"} <= rollbot.settings.secret_names()
    web = client(rollbot, "10.0.0.5")

    def basic(user: str, password: str) -> dict[str, str]:
        raw = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {raw}"}

    refused = web.get("/")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith('Basic realm="rollbot dashboard"')
    assert web.get("/", headers=basic("ops", "wrong")).status_code == 401
    assert web.get("/", headers=basic("root", "pa55word")).status_code == 401
    assert web.get("/", headers={"Authorization": "Basic !!notbase64"}).status_code == 401
    assert web.get("/", headers=basic("ops", "pa55word")).status_code == 200
    assert web.get("/dashboard/fragment", headers=basic("ops", "pa55word")).status_code == 200
    assert web.get("/healthz").status_code == 200


def test_the_fragment_answers_304_until_something_changes(bot: Callable[..., Rollbot]) -> None:
    rollbot = bot()
    web = client(rollbot, "127.0.0.1")
    first = web.get("/dashboard/fragment")
    etag = first.headers["etag"]
    assert web.get("/dashboard/fragment", headers={"If-None-Match": etag}).status_code == 304
    rollbot.rollouts.start(FLAG, None, ALICE)
    changed = web.get("/dashboard/fragment", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert f'data-flag="{FLAG}">0%</strong>' in changed.text


def test_everything_shown_is_escaped(bot: Callable[..., Rollbot]) -> None:
    rollbot = bot()
    rollbot.incidents.declare(Severity.SEV2, '<script>alert("x")</script>', ALICE)
    page = client(rollbot, "127.0.0.1").get("/")
    assert '<script>alert("x")</script>' not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    # Only the page's own script runs (a nonce in the Content-Security-Policy).
    assert "script-src 'nonce-" in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("section", "env", "expected"),
    [
        ("dashboard:\n  auth: {}\n", {}, "dashboard.auth: give exactly one of token_env"),
        (
            "dashboard:\n  auth:\n    token_env: T\n    basic: {user_env: U, password_env: P}\n",
            {"T": "x", "U": "u", "P": "p"},
            "dashboard.auth: give exactly one of token_env",
        ),
        (
            "dashboard:\n  auth:\n    token_env: my-token\n",
            {},
            "dashboard.auth.token_env: 'my-token' is not an environment variable name",
        ),
        (
            "dashboard:\n  auth:\n    token_env: ROLLBOT_DASHBOARD_TOKEN\n",
            {},
            "dashboard.auth.token_env: the environment variable ROLLBOT_DASHBOARD_TOKEN named "
            "here is not set",
        ),
        (
            "dashboard:\n  auth:\n    basic: {user_env: DASH_USER, password_env: DASH_PASSWORD}\n",
            {"DASH_USER": "ops"},
            "dashboard.auth.basic.password_env: the environment variable DASH_PASSWORD",
        ),
        ("dashboard:\n  refresh_seconds: 0\n", {}, "dashboard.refresh_seconds"),
    ],
)
def test_config_problems_name_the_key_and_say_what_to_do(
    tmp_path: Path, section: str, env: dict[str, str], expected: str
) -> None:
    config = tmp_path / "rollbot.yaml"
    config.write_text(f"rollouts:\n  plans_dir: {PLANS_DIR}\n" + section, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(env={"DATABASE_URL": f"sqlite:///{tmp_path}/c.db", **env}, config_path=config)
    problems = [str(p) for p in raised.value.problems]
    assert any(expected in p and "hint:" in p for p in problems), problems
