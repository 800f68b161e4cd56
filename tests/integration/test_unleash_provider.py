"""The unleash provider against a real Unleash server (npm `unleash-server`), started once per
test session from tests/unleash/launch.mjs on 127.0.0.1 with its own fresh PostgreSQL
database. Rollouts run in a local rollbot whose `flags.provider` is unleash; every check
reads Unleash back through its Admin API (and its playground, which evaluates flags the way
Unleash's SDKs do).

Skipped, saying why, only when node or npm is missing. The install is cached outside the
clone by tests/unleash/install.sh (which .ci/run also calls).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.clock import ManualClock
from bot.config.settings import load_settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.domain.bucketing import evaluate
from bot.domain.errors import RollbotError
from bot.domain.flag import FlagChange, FlagDocument
from bot.providers.flags.base import FlagProviderError
from bot.store import audit
from tests.conftest import NO_GATES, PLANS_DIR
from tests.flag_sdk_support import SEGMENTS_YAML
from tests.unleash_support import UnleashMissing, unleash_server

ADMIN_TOKEN = "*:*.rollbot-test-admin-token"
ENV = "development"
ALICE = Actor("U0ALICE", Via.SLACK)
# The first test also waits for the session's Unleash: an install on a cold cache (npm) and
# its start with migrations can outlast the suite's 120 s default.
pytestmark = pytest.mark.timeout(600)


@dataclass
class UnleashServer:
    """A running Unleash and an admin client to read it back."""

    base_url: str
    admin: httpx.Client

    def feature(self, key: str) -> dict[str, Any] | None:
        response = self.admin.get(f"/api/admin/projects/default/features/{key}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def env(self, key: str, name: str = ENV) -> dict[str, Any]:
        feature = self.feature(key)
        assert feature is not None, f"{key} does not exist in Unleash"
        return next(e for e in feature["environments"] if e["name"] == name)

    def strategy(self, key: str) -> dict[str, Any]:
        """rollbot's strategy for everyone (not one of its segment strategies)."""
        (strategy,) = [
            s
            for s in self.env(key)["strategies"]
            if not str(s.get("title") or "").startswith("rollbot segment ")
        ]
        return dict(strategy)

    def titles(self, key: str) -> list[str]:
        return sorted(str(s.get("title") or "") for s in self.env(key)["strategies"])

    def playground(self, key: str, context: dict[str, str]) -> bool:
        """Whether Unleash itself (its playground, as its SDKs evaluate) shows `key`."""
        response = self.admin.post(
            "/api/admin/playground/advanced",
            json={"projects": ["default"], "environments": [ENV],
                  "context": {"appName": "rollbot-test", **context}},
        )  # fmt: skip
        response.raise_for_status()
        (feature,) = [f for f in response.json()["features"] if f["name"] == key]
        (result,) = feature["environments"][ENV]
        return bool(result["isEnabled"])


@pytest.fixture(scope="session")
def unleash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UnleashServer]:
    with ExitStack() as stack:
        tokens = {"INIT_ADMIN_API_TOKENS": ADMIN_TOKEN}
        try:
            base_url = stack.enter_context(
                unleash_server(tmp_path_factory.mktemp("unleash"), tokens)
            )
        except UnleashMissing as exc:
            pytest.skip(f"{exc} (the real-Unleash tests)")
        except RuntimeError as exc:
            pytest.fail(str(exc))
        client = stack.enter_context(
            httpx.Client(base_url=base_url, headers={"Authorization": ADMIN_TOKEN}, timeout=10)
        )
        yield UnleashServer(base_url, client)


@pytest.fixture
def local(tmp_path: Path, unleash: UnleashServer) -> Iterator[Callable[..., Rollbot]]:
    """Build a rollbot (SQLite) whose flag provider is this Unleash."""
    built: list[Rollbot] = []

    def make(token: str = ADMIN_TOKEN, transport: httpx.BaseTransport | None = None) -> Rollbot:
        config = tmp_path / f"rollbot-{len(built)}.yaml"
        config.write_text(
            NO_GATES + f"rollouts:\n  plans_dir: {PLANS_DIR}\n  default_plan: realtime-features\n"
            "flags:\n  provider: unleash\n  unleash:\n"
            f"    base_url: {unleash.base_url}\n    token_env: UNLEASH_ADMIN_TOKEN\n"
            f"    project: default\n    environment: {ENV}\n    attempts: 2\n"
            # the `internal` segment of the shipped plan's staff step (as the example config)
             + SEGMENTS_YAML.removeprefix("flags:\n"),
            encoding="utf-8",
        )
        settings = load_settings(
            env={
                "DATABASE_URL": f"sqlite:///{tmp_path}/rollbot-{len(built)}.db",
                "UNLEASH_ADMIN_TOKEN": token,
            },
            config_path=config,
        )
        bot = build(settings, ManualClock(), flag_transport=transport)
        built.append(bot)
        return bot

    yield make
    for bot in built:
        bot.db.dispose()


class Recording(httpx.BaseTransport):
    """The network, noting each request rollbot sends through it."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.network = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        return self.network.handle_request(request)


def new_flag() -> str:
    return f"rt-{uuid.uuid4().hex[:10]}"


def test_staff_then_5_then_25_percent_set_the_strategies_in_unleash(
    local: Callable[..., Rollbot], unleash: UnleashServer
) -> None:
    bot, flag = local(), new_flag()
    bot.rollouts.start(flag, None, ALICE)
    assert unleash.env(flag)["enabled"] is False
    assert unleash.strategy(flag)["parameters"]["rollout"] == "0"
    # The shipped plan's staff step: 0% for everyone, the internal segment at 100%
    bot.rollouts.advance(flag, ALICE, expected_step=0)
    assert unleash.env(flag)["enabled"] is True
    assert unleash.strategy(flag)["parameters"]["rollout"] == "0"
    assert unleash.titles(flag) == [
        "", "rollbot segment internal", "rollbot segment internal (named)",
    ]  # fmt: skip
    staff = {"userId": "u1", "email": "qa@example.com"}
    outsider = {"userId": "u1", "email": "someone@elsewhere.org"}
    assert unleash.playground(flag, staff) is True
    assert unleash.playground(flag, {"userId": "u2", "segment": "internal"}) is True
    assert unleash.playground(flag, outsider) is False
    assert bot.flags.get(flag) == FlagDocument(
        enabled=True, rollout_percentage=0, segment_rollouts={"internal": 100}
    )
    bot.rollouts.advance(flag, ALICE, expected_step=1)
    assert unleash.strategy(flag)["parameters"]["rollout"] == "5"
    assert unleash.playground(flag, staff) is True  # staff stay at 100%
    bot.rollouts.advance(flag, ALICE, expected_step=2)
    strategy = unleash.strategy(flag)
    assert strategy["name"] == "flexibleRollout"
    assert strategy["parameters"] == {"rollout": "25", "stickiness": "default", "groupId": flag}
    assert unleash.env(flag)["enabled"] is True
    assert unleash.env(flag, "production")["enabled"] is False  # only the configured one
    assert bot.flags.get(flag) == FlagDocument(
        enabled=True, rollout_percentage=25, segment_rollouts={"internal": 100}
    )
    with bot.db.session() as s:
        last = audit.events(s, subject_id=flag, action="flag.changed")[-1]
    assert (last.actor, last.detail) == ("U0ALICE", "provider=unleash")
    assert (last.before or {})["rollout_percentage"] == 5
    assert (last.after or {})["rollout_percentage"] == 25


def test_unleash_buckets_users_as_rollbot_does(
    local: Callable[..., Rollbot], unleash: UnleashServer
) -> None:
    bot, flag = local(), new_flag()
    bot.flags.apply(flag, FlagChange(enabled=True, rollout_percentage=25), ALICE)
    users = [f"user-{i}" for i in range(200)]
    response = unleash.admin.post(
        "/api/admin/playground/advanced",
        json={"projects": ["default"], "environments": [ENV],
              "context": {"appName": "rollbot-test", "userId": ",".join(users)}},
    )  # fmt: skip
    response.raise_for_status()
    (feature,) = [f for f in response.json()["features"] if f["name"] == flag]
    by_unleash = {r["context"]["userId"]: r["isEnabled"] for r in feature["environments"][ENV]}
    doc = FlagDocument(enabled=True, rollout_percentage=25)
    by_rollbot = {u: evaluate(doc, flag, u)[0] for u in users}
    assert by_unleash == by_rollbot
    assert 20 < sum(by_rollbot.values()) < 80  # a real split, not all or nothing


def test_zero_percent_keeps_staff_and_disabling_turns_the_environment_off(
    local: Callable[..., Rollbot], unleash: UnleashServer
) -> None:
    bot, flag = local(), new_flag()
    bot.rollouts.start(flag, None, ALICE)
    bot.rollouts.advance(flag, ALICE, expected_step=0)  # staff
    bot.rollouts.advance(flag, ALICE, expected_step=1)  # 5%
    assert unleash.env(flag)["enabled"] is True
    staff = {"userId": "u1", "email": "qa@example.com"}
    # 0% of everyone: the plan's staff step still holds, in Unleash too
    bot.rollouts.set_percentage(flag, 0, ALICE, force=True)
    assert unleash.env(flag)["enabled"] is True
    assert unleash.strategy(flag)["parameters"]["rollout"] == "0"
    assert unleash.playground(flag, staff) is True
    assert unleash.playground(flag, {"userId": "u1", "email": "a@elsewhere.org"}) is False
    # What a rollback's first step sends: off, and the staff's strategies go
    bot.flags.apply(flag, FlagChange(enabled=False, rollout_percentage=0, segment_rollouts={}),
                    ALICE)  # fmt: skip
    assert unleash.env(flag)["enabled"] is False
    assert unleash.strategy(flag)["parameters"]["rollout"] == "0"
    assert unleash.titles(flag) == [""]
    assert unleash.playground(flag, staff) is False


def test_out_of_range_is_refused_before_anything_reaches_unleash(
    local: Callable[..., Rollbot], unleash: UnleashServer
) -> None:
    recording = Recording()
    bot, flag = local(transport=recording), new_flag()
    sent = recording.sent
    for bad in (150, 101, -5):
        with pytest.raises(FlagProviderError, match="out of range"):
            bot.flags.apply(flag, FlagChange.model_construct(rollout_percentage=bad), ALICE)
    bot.rollouts.start(flag, None, ALICE)
    sent.clear()
    with pytest.raises(RollbotError, match="not a percentage"):
        bot.rollouts.set_percentage(flag, 150, ALICE)
    assert sent == []
    assert unleash.strategy(flag)["parameters"]["rollout"] == "0"


def test_a_bad_token_is_a_clear_error_and_the_rollout_is_unchanged(
    local: Callable[..., Rollbot], unleash: UnleashServer
) -> None:
    flag = new_flag()
    good = local()
    good.rollouts.start(flag, None, ALICE)
    good.rollouts.advance(flag, ALICE, expected_step=0)  # staff
    good.rollouts.advance(flag, ALICE, expected_step=1)  # 5%
    bad = local(token="*:*.not-the-admin-token")
    with pytest.raises(RollbotError) as caught:
        bad.rollouts.start(new_flag(), None, ALICE)
    text = str(caught.value)
    assert "401" in text and "UNLEASH_ADMIN_TOKEN" in text
    assert "not-the-admin-token" not in text
    assert bad.rollouts.active() == []
    # The same refusal in the middle of a rollout leaves both rollbot and Unleash at 5%.
    good.flags.remote.client.headers["Authorization"] = "*:*.revoked"  # type: ignore[attr-defined]
    with pytest.raises(RollbotError, match="401"):
        good.rollouts.advance(flag, ALICE, expected_step=2)
    assert good.rollouts.status(flag).percentage == 5
    assert unleash.strategy(flag)["parameters"]["rollout"] == "5"
    with good.db.session() as s:
        assert [e.action for e in audit.events(s, subject_id=flag)][-1] == "rollout.advanced"


def test_user_segments_map_to_a_constraint(
    local: Callable[..., Rollbot], unleash: UnleashServer
) -> None:
    bot, flag = local(), new_flag()
    bot.flags.apply(
        flag, FlagChange(enabled=True, rollout_percentage=10, user_segments=["beta"]), ALICE
    )
    (constraint,) = unleash.strategy(flag)["constraints"]
    assert (constraint["contextName"], constraint["operator"], constraint["values"]) == (
        "segment", "IN", ["beta"],
    )  # fmt: skip
    assert bot.flags.get(flag) == FlagDocument(
        enabled=True, rollout_percentage=10, user_segments=["beta"]
    )


class FailSwitchOn(httpx.BaseTransport):
    """Forwards to the real Unleash, except that turning an environment on answers 500."""

    def __init__(self) -> None:
        self.real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith(f"/environments/{ENV}/on"):
            return httpx.Response(500, json={"message": "injected: switch failed"})
        return self.real.handle_request(request)


def test_a_failed_switch_on_puts_the_strategy_back_in_unleash(
    tmp_path: Path, unleash: UnleashServer
) -> None:
    from bot.providers.flags.unleash import UnleashFlagProvider
    from bot.store.database import Database

    db, flag = Database(f"sqlite:///{tmp_path}/undo.db"), new_flag()
    args = (db, ManualClock(), unleash.base_url, ADMIN_TOKEN, "UNLEASH_ADMIN_TOKEN")
    try:
        UnleashFlagProvider(*args, environment=ENV).apply(
            flag, FlagChange(enabled=False, rollout_percentage=0, user_segments=["beta"]), ALICE
        )
        before = unleash.strategy(flag)
        failing = UnleashFlagProvider(
            *args, environment=ENV, transport=FailSwitchOn(), attempts=2, sleep=lambda _s: None
        )
        with pytest.raises(FlagProviderError, match=r"500.*were undone"):
            failing.apply(flag, FlagChange(enabled=True, rollout_percentage=5), ALICE)
        # A new flag: its strategy is created, then deleted again when the switch fails.
        other = new_flag()
        with pytest.raises(FlagProviderError, match="were undone"):
            failing.apply(other, FlagChange(enabled=True, rollout_percentage=5), ALICE)
    finally:
        db.dispose()
    after = unleash.strategy(flag)
    assert after["parameters"]["rollout"] == "0"
    assert (after["id"], after["constraints"]) == (before["id"], before["constraints"])
    assert unleash.env(flag)["enabled"] is False
    assert unleash.env(other)["enabled"] is False and unleash.env(other)["strategies"] == []
