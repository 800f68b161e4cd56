"""Shared fixtures: a database per backend (SQLite file, fresh PostgreSQL database), a
manual clock, settings pointing at the shipped plans, and a built Rollbot.

Tests that take `database_url` (directly or through `settings`/`rollbot`) run once per
backend. PostgreSQL tests are skipped, with the reason, when the server is not reachable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.clock import ManualClock
from bot.commands.incident import IncidentReply
from bot.commands.reply import Reply
from bot.config.settings import Settings, load_settings
from bot.container import Rollbot, build
from bot.services.chat import ChatPorts
from bot.services.incidents.ports import Pager, StatusPageProvider
from bot.slack.blocks import chat_text
from bot.web.metrics import RollbotMetrics
from tests.fakes.incidents import FakeStatusPage

if TYPE_CHECKING:
    import psycopg

REPO_ROOT = Path(__file__).resolve().parent.parent
PLANS_DIR = REPO_ROOT / "config" / "plans"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
API_TOKEN = "test-token"

# Tests of the rollout engine run the shipped plan without its sign-off gates; sign-off tests
# (which write their own `signoff:` section) turn them on.
NO_GATES = "signoff:\n  enforce_gates: false\n"
# The shipped plan's roles, one member each (U<ROLE>), and its gates enforced.
SHIPPED_ROLES = """roles:
  eng_lead: {name: Engineering Lead, members: [UENG]}
  product_manager: {name: Product Manager, members: [UPM]}
  security_lead: {name: Security Lead, members: [USEC]}
  ops_lead: {name: Operations Lead, members: [UOPS]}
  cto: {name: CTO, members: [UCTO]}
"""
GATES = "signoff:\n  enforce_gates: true\n"


def postgres_admin() -> psycopg.Connection[Any]:
    """A connection to the test PostgreSQL server that may create databases; raises
    psycopg.Error when the server is not reachable."""
    import psycopg

    return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)


def postgres_admin_or_skip() -> psycopg.Connection[Any]:
    """`postgres_admin()`, or the test skipped with the reason."""
    import psycopg

    try:
        return postgres_admin()
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}")


@contextmanager
def fresh_database(admin: psycopg.Connection[Any], prefix: str = "rollbot_test") -> Iterator[str]:
    """The URL of a uniquely named, empty PostgreSQL database, dropped (and `admin`
    closed) when the block ends."""
    name = f"{prefix}_{uuid.uuid4().hex}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: absent under -p no:xdist
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """What `-n auto` (pyproject.toml's addopts) means: one worker more than the cores this
    process may use. The tests spend much of their time waiting on subprocesses (`rollbot
    serve`, the CLI, Prometheus, Unleash, PostgreSQL), so a third worker on 2 cores pays.
    PYTEST_XDIST_AUTO_NUM_WORKERS, when set, wins (pytest-xdist reads it)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) + 1


# Wider scopes first: a test that shares a session fixture and a module one is grouped by
# the session one (xdist would otherwise make a third group of the pair).
_SHARED_SCOPES = ("session", "package", "module", "class")


def _shared_fixture_group(item: pytest.Item) -> str | None:
    """The xdist group of a test that uses a fixture of this suite wider than one test (a
    real Prometheus per module, the session's Unleash, a wheel built per module), or None."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    found: dict[str, str] = {}
    for name in info.names_closure:
        defs = info.name2fixturedefs.get(name)
        if not defs:
            continue
        fixture = defs[-1]  # the definition this test gets (the closest override)
        scope = fixture.scope if isinstance(fixture.scope, str) else fixture.scope.value
        module = getattr(fixture.func, "__module__", "") or ""
        if scope not in _SHARED_SCOPES or not module.startswith("tests."):
            continue  # per-test fixtures, and pytest's own (tmp_path_factory, ...)
        if scope == "session":
            found.setdefault(scope, f"{module}.{name}")
        else:  # built once per module: the module's tests stay together
            found.setdefault(scope, item.nodeid.split("::")[0])
    return next((found[s] for s in _SHARED_SCOPES if s in found), None)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist turns the marks into its groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group, for `--dist loadgroup` (pyproject.toml), the tests that share an expensive
    fixture wider than one test, so one worker builds it once instead of every worker
    building its own: a real Prometheus takes ~8 s to start, Unleash ~4 s plus its own
    PostgreSQL database, the wheel install ~12 s. This is about cost, not correctness: such
    fixtures are per process anyway, so a worker that built its own would still be right.

    Everything else spreads test by test, and is safe side by side by construction: each
    test gets its own database (SQLite under tmp_path, or a uniquely named PostgreSQL
    database, see `database_url`), its own tmp_path, servers on ephemeral ports, and each
    worker is its own process (module globals such as the scheduler's running Rollbot are
    per worker). A test that truly cannot run beside another takes an explicit
    `@pytest.mark.xdist_group("<name>")`, which this hook leaves as it is."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        group = _shared_fixture_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a uniquely named PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rollbot.db'}"
        return
    with fresh_database(postgres_admin_or_skip()) as url:
        yield url


@pytest.fixture
def clock() -> ManualClock:
    """A clock the test moves by hand."""
    return ManualClock()


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    """Build settings for a database URL, with the shipped plans and a test API token."""

    def make(url: str, extra_yaml: str = "", api_token: str | None = API_TOKEN) -> Settings:
        config = tmp_path / f"rollbot-{uuid.uuid4().hex[:8]}.yaml"
        config.write_text(
            "rollouts:\n"
            f"  plans_dir: {PLANS_DIR}\n"
            "  default_plan: realtime-features\n"
            + extra_yaml
            + ("" if "signoff:" in extra_yaml else NO_GATES),
            encoding="utf-8",
        )
        env = {"DATABASE_URL": url}
        if api_token is not None:
            env["ROLLBOT_API_TOKEN"] = api_token
        return load_settings(env=env, config_path=config)

    return make


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], database_url: str) -> Settings:
    """Settings on the test's database."""
    return settings_factory(database_url)


@pytest.fixture
def chat_ports() -> ChatPorts:
    """The chat `rollbot` is built with: none. A test module overrides this fixture to
    hear what rollbot says (a recording chat, the fake Slack)."""
    return ChatPorts.none()


@dataclass
class Providers:
    """Outside systems a test hands to `build` in place of the configured ones."""

    pager: Pager | None = None  # None: as configured
    status_pages: Sequence[StatusPageProvider] | None = None  # None: as configured; []: none

    def build(
        self,
        settings: Settings,
        clock: ManualClock,
        chat: ChatPorts,
        telemetry: RollbotMetrics | None = None,
    ) -> Rollbot:
        """rollbot built with these in place of the configured ones (`telemetry`: the
        metrics Slack's client already counts into)."""
        return build(
            settings,
            clock,
            chat,
            pager=self.pager,
            status_pages=self.status_pages,
            telemetry=telemetry,
        )


@pytest.fixture
def providers() -> Providers:
    """The pager and status pages `rollbot` is built with: the configured ones. A test module
    overrides this fixture to put fakes in their place."""
    return Providers()


@pytest.fixture
def status_page() -> FakeStatusPage:
    """A fake status page; a module's `providers` fixture puts it in place."""
    return FakeStatusPage()


@pytest.fixture
def rollbot(
    settings: Settings, clock: ManualClock, chat_ports: ChatPorts, providers: Providers
) -> Iterator[Rollbot]:
    """A built Rollbot (database migrated), disposed after the test."""
    bot = providers.build(settings, clock, chat_ports)
    try:
        yield bot
    finally:
        bot.db.dispose()


@contextmanager
def built(
    settings: Settings,
    clock: ManualClock | None = None,
    chat: ChatPorts | None = None,
    **kwargs: Any,
) -> Iterator[Rollbot]:
    """rollbot built as `build` builds it (`holds`, `metrics`, ... as keywords), its
    database disposed when the block ends."""
    bot = build(settings, clock or ManualClock(), chat, **kwargs)
    try:
        yield bot
    finally:
        bot.db.dispose()


def slack_text(reply: Reply | IncidentReply) -> str:
    """A command's reply as Slack shows it (mrkdwn, mentions written)."""
    return chat_text(reply.message or reply.text)
