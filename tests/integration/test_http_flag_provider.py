"""The http flag provider against a real flag API: another rollbot's built-in /flags, served by
uvicorn on an ephemeral port. Rollouts run in a local rollbot whose `flags.provider` is http.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.clock import ManualClock
from bot.config.settings import Settings, load_settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.domain.errors import RollbotError
from bot.domain.flag import FlagChange, FlagDocument
from bot.providers.flags.base import FlagProviderError
from bot.providers.flags.http import HttpFlagProvider
from bot.store import audit
from bot.web.app import create_app
from tests.asgi_thread import serving
from tests.conftest import NO_GATES, PLANS_DIR
from tests.flag_sdk_support import SEGMENTS_YAML

FLAG = "realtime-features"
REMOTE_TOKEN = "remote-secret-token"
ALICE = Actor("U0ALICE", Via.SLACK)


@dataclass
class Remote:
    """The remote flag API: a rollbot serving its built-in store."""

    bot: Rollbot
    base_url: str

    def flag(self, key: str = FLAG) -> FlagDocument | None:
        return self.bot.flags.get(key)

    def revoke_token(self) -> None:
        """Revoke the token rollbot was given (REMOTE_TOKEN): from now on the remote takes
        writes with another token only, and answers 401 to rollbot's."""
        self.bot.settings.api_token = "a-token-rollbot-was-not-given"


def serve_remote(tmp_path: Path, segments: bool) -> Iterator[Remote]:
    """A rollbot serving its flags; `segments`: with the `internal` segment the shipped plan's
    staff step gives 100% (as config/rollbot.example.yaml defines it), or none."""
    config = tmp_path / "remote.yaml"
    config.write_text(
        NO_GATES + f"rollouts:\n  plans_dir: {PLANS_DIR}\n" + (SEGMENTS_YAML if segments else ""),
        encoding="utf-8",
    )
    settings = load_settings(
        env={"DATABASE_URL": f"sqlite:///{tmp_path}/remote.db", "ROLLBOT_API_TOKEN": REMOTE_TOKEN},
        config_path=config,
    )
    bot = build(settings, ManualClock())
    try:
        with serving(create_app(bot), "remote-flags", lifespan="off") as url:
            yield Remote(bot, url)
    finally:
        bot.db.dispose()


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Remote]:
    yield from serve_remote(tmp_path, segments=True)


@pytest.fixture
def remote_without_segments(tmp_path: Path) -> Iterator[Remote]:
    yield from serve_remote(tmp_path, segments=False)


@pytest.fixture
def local_factory(tmp_path: Path) -> Iterator[Callable[[str, str], Rollbot]]:
    """A rollbot whose flags live at `base_url`, with the token in FLAGS_API_TOKEN; its
    retries do not wait."""
    built: list[Rollbot] = []

    def make(base_url: str, token: str = REMOTE_TOKEN) -> Rollbot:
        config = tmp_path / "local.yaml"
        config.write_text(
            NO_GATES + f"rollouts:\n  plans_dir: {PLANS_DIR}\n  default_plan: realtime-features\n"
            f"flags:\n  provider: http\n  http:\n    base_url: {base_url}\n"
            "    token_env: FLAGS_API_TOKEN\n    attempts: 2\n    timeout_seconds: 2\n",
            encoding="utf-8",
        )
        settings: Settings = load_settings(
            env={
                "DATABASE_URL": f"sqlite:///{tmp_path}/local.db",
                "FLAGS_API_TOKEN": token,
                "ROLLBOT_API_TOKEN": "local-api-token",
            },
            config_path=config,
        )
        bot = build(settings, ManualClock(), sleep=lambda _s: None)  # retries do not wait
        built.append(bot)
        return bot

    yield make
    for bot in built:
        bot.db.dispose()


def test_a_rollout_sets_the_percentage_in_the_remote_flag_api(
    remote: Remote, local_factory: Callable[..., Rollbot]
) -> None:
    local = local_factory(remote.base_url)
    assert local.flags.name == "http"
    local.rollouts.start(FLAG, None, ALICE)
    assert remote.flag() == FlagDocument(enabled=False, rollout_percentage=0)
    local.rollouts.advance(FLAG, ALICE, expected_step=0)
    # The shipped plan's staff step: on for the internal segment only, in the remote too
    staff = FlagDocument(enabled=True, rollout_percentage=0, segment_rollouts={"internal": 100})
    assert remote.flag() == staff
    on = {"userId": "u1", "email": "qa@example.com"}
    off = {"userId": "u1", "email": "someone@elsewhere.org"}
    answers = [
        httpx.get(f"{remote.base_url}/flags/{FLAG}/evaluate", params=q).json()["enabled"]
        for q in (on, off)
    ]
    assert answers == [True, False]
    local.rollouts.advance(FLAG, ALICE, expected_step=1)
    five = FlagDocument(enabled=True, rollout_percentage=5, segment_rollouts={"internal": 100})
    assert remote.flag() == five
    local.rollouts.advance(FLAG, ALICE, expected_step=2)
    assert remote.flag() == five.model_copy(update={"rollout_percentage": 25})
    assert local.flags.get(FLAG) == remote.flag()
    with local.db.session() as s:
        changes = audit.events(s, subject_id=FLAG, action="flag.changed")
    last = changes[-1]
    assert (last.actor, last.detail) == ("U0ALICE", "provider=http")
    assert last.before is not None and last.before["rollout_percentage"] == 5
    assert last.after is not None and last.after["rollout_percentage"] == 25
    # The remote keeps its own audit trail of the same change.
    with remote.bot.db.session() as s:
        assert audit.events(s, subject_id=FLAG)[-1].after["rollout_percentage"] == 25  # type: ignore[index]


def test_a_wrong_token_is_a_clear_error_and_the_rollout_does_not_move(
    remote: Remote, local_factory: Callable[..., Rollbot]
) -> None:
    local = local_factory(remote.base_url)
    local.rollouts.start(FLAG, None, ALICE)
    remote.revoke_token()
    with pytest.raises(RollbotError) as caught:
        local.rollouts.advance(FLAG, ALICE, expected_step=0)
    text = str(caught.value)
    assert "401" in text and "FLAGS_API_TOKEN" in text
    assert REMOTE_TOKEN not in text and "a-token-rollbot-was-not-given" not in text
    assert local.rollouts.status(FLAG).percentage == 0
    assert remote.flag() == FlagDocument(enabled=False, rollout_percentage=0)
    with local.db.session() as s:
        # The start's: its check that the remote holds the plan's segments (the flag
        # created with `internal` at 0%), the flag off at 0%, the rollout. Nothing of the advance.
        assert [e.action for e in audit.events(s, subject_id=FLAG)] == [
            "flag.created", "flag.changed", "rollout.started",
        ]  # fmt: skip


class FlakyThenReal(httpx.BaseTransport):
    """Answers 500 to the first `failures` POSTs, then forwards everything to the real API."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.real = httpx.HTTPTransport()
        self.posts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts += 1
            if self.posts <= self.failures:
                return httpx.Response(500, json={"error": "database briefly unavailable"})
        return self.real.handle_request(request)


def test_a_500_then_200_is_retried_with_backoff(tmp_path: Path, remote: Remote) -> None:
    from bot.store.database import Database

    db = Database(f"sqlite:///{tmp_path}/audit.db")
    sleeps: list[float] = []
    transport = FlakyThenReal(failures=2)
    provider = HttpFlagProvider(
        db, ManualClock(), remote.base_url, REMOTE_TOKEN, "FLAGS_API_TOKEN",
        attempts=3, backoff=0.5, transport=transport, sleep=sleeps.append,
    )  # fmt: skip
    try:
        doc = provider.apply(FLAG, FlagChange(enabled=True, rollout_percentage=5), ALICE)
    finally:
        db.dispose()
    assert doc == FlagDocument(enabled=True, rollout_percentage=5)
    assert remote.flag() == doc
    assert (transport.posts, sleeps) == (3, [0.5, 1.0])


def test_too_many_500s_give_up_after_the_attempts(tmp_path: Path, remote: Remote) -> None:
    from bot.store.database import Database

    db = Database(f"sqlite:///{tmp_path}/audit.db")
    provider = HttpFlagProvider(
        db, ManualClock(), remote.base_url, REMOTE_TOKEN, "FLAGS_API_TOKEN",
        attempts=2, transport=FlakyThenReal(failures=5), sleep=lambda _s: None,
    )  # fmt: skip
    try:
        with pytest.raises(FlagProviderError, match=r"answered 500.*after 2 attempt"):
            provider.apply(FLAG, FlagChange(enabled=True), ALICE)
    finally:
        db.dispose()
    assert remote.flag() is None


def test_connection_refused_is_reported_and_the_rollout_rolls_back(
    local_factory: Callable[..., Rollbot],
) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    local = local_factory(f"http://127.0.0.1:{port}")
    with pytest.raises(RollbotError, match=r"could not connect.*after 2 attempt") as caught:
        local.rollouts.start(FLAG, None, ALICE)
    assert REMOTE_TOKEN not in str(caught.value)
    assert local.rollouts.active() == []
    with local.db.session() as s:
        assert audit.events(s, subject_id=FLAG) == []


def test_an_answer_that_is_not_a_flag_document_is_named_as_such(tmp_path: Path) -> None:
    from bot.store.database import Database

    db = Database(f"sqlite:///{tmp_path}/audit.db")
    proxy_page = httpx.MockTransport(lambda _r: httpx.Response(200, json={"status": "ok"}))
    provider = HttpFlagProvider(
        db, ManualClock(), "http://flags.test", REMOTE_TOKEN, "FLAGS_API_TOKEN",
        transport=proxy_page,
    )  # fmt: skip
    bad = httpx.MockTransport(lambda _r: httpx.Response(200, json={"rollout_percentage": "lots"}))
    provider_bad = HttpFlagProvider(
        db, ManualClock(), "http://flags.test", REMOTE_TOKEN, "FLAGS_API_TOKEN", transport=bad
    )
    try:
        with pytest.raises(FlagProviderError, match=r"not a flag document \(no enabled or"):
            provider.get(FLAG)
        with pytest.raises(FlagProviderError, match="not a flag document"):
            provider_bad.get(FLAG)
    finally:
        db.dispose()


def test_two_simultaneous_starts_change_the_remote_flag_once(
    database_url: str, tmp_path: Path
) -> None:
    """The loser of a start race fails on rollbot's own database before it calls the remote
    API, and says who won (not "the flag provider refused")."""
    from bot.domain.errors import Conflict, InvalidTransition
    from tests.integration.test_rollout_service import run_together

    posts: list[bytes] = []
    held: dict[str, object] = {}  # a remote like rollbot's /flags, segments included

    def flag_api(request: httpx.Request) -> httpx.Response:
        time.sleep(0.3)  # a slow remote: both starts are inside their transactions together
        if request.method == "POST":
            posts.append(request.content)
            held.update(FlagDocument().model_dump() | held | json.loads(request.content))
            return httpx.Response(200, json=held)
        if held:
            return httpx.Response(200, json=held)
        return httpx.Response(404, json={"error": "no such flag"})

    config = tmp_path / "race.yaml"
    config.write_text(
        NO_GATES + f"rollouts:\n  plans_dir: {PLANS_DIR}\n  default_plan: realtime-features\n"
        "flags:\n  provider: http\n  http:\n    base_url: http://flags.test\n"
        "    token_env: FLAGS_API_TOKEN\n",
        encoding="utf-8",
    )
    settings = load_settings(
        env={"DATABASE_URL": database_url, "FLAGS_API_TOKEN": REMOTE_TOKEN}, config_path=config
    )
    bot = build(settings, ManualClock(), flag_transport=httpx.MockTransport(flag_api))
    try:
        results = run_together(
            lambda: bot.rollouts.start(FLAG, None, ALICE),
            lambda: bot.rollouts.start(FLAG, None, Actor("U0BOB", Via.SLACK)),
        )
        kinds = sorted(kind for kind, _ in results)
        assert kinds == ["error", "ok"], results
        error = next(v for k, v in results if k == "error")
        assert isinstance(error, Conflict | InvalidTransition), error
        assert "flag provider" not in str(error)
        # The winner's two: its check that the remote holds `internal`, and the flag off.
        assert [json.loads(p) for p in posts] == [
            {"segment_rollouts": {"internal": 0}},
            {"enabled": False, "rollout_percentage": 0, "monitoring_enabled": True,
             "segment_rollouts": {}},
        ]  # fmt: skip
        assert len(bot.rollouts.active()) == 1
    finally:
        bot.db.dispose()


def test_rollbots_flag_api_answers_502_when_its_remote_provider_fails(
    local_factory: Callable[..., Rollbot],
) -> None:
    from starlette.testclient import TestClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    local = local_factory(f"http://127.0.0.1:{port}")
    with TestClient(create_app(local)) as client:
        for response in (
            client.get(f"/flags/{FLAG}"),
            client.get(f"/flags/{FLAG}/evaluate?userId=u1"),
            client.post(f"/flags/{FLAG}", json={"enabled": True},
                        headers={"Authorization": "Bearer local-api-token"}),
        ):  # fmt: skip
            assert response.status_code == 502, response.text
            assert "could not connect" in response.json()["error"]
            assert REMOTE_TOKEN not in response.text


def test_a_remote_without_the_plans_segment_refuses_at_start_and_nothing_starts(
    remote_without_segments: Remote, local_factory: Callable[..., Rollbot]
) -> None:
    """The shipped plan's staff step needs `internal` in the remote: rollbot asks at start,
    not a week later at the staff step."""
    local = local_factory(remote_without_segments.base_url)
    with pytest.raises(RollbotError) as caught:
        local.rollouts.start(FLAG, None, ALICE)
    error = caught.value
    assert "The plan gives segments percentages (internal)" in str(error)
    assert "422" in str(error) and "unknown segment 'internal'" in str(error)
    assert "Define those segments in the remote flag API" in str(error.hint)
    assert local.rollouts.active() == []
    assert remote_without_segments.flag() is None  # the remote refused before changing it
    with local.db.session() as s:
        assert audit.events(s, subject_id=FLAG) == []


class SeedShapedApi:
    """A flag API with the seed's document only (no `segment_rollouts`), which ignores the
    fields it does not know, as many do."""

    FIELDS = ("enabled", "rollout_percentage", "user_segments", "fallback_enabled",
              "monitoring_enabled")  # fmt: skip

    def __init__(self, exists: bool) -> None:
        self.doc: dict[str, object] | None = None
        if exists:
            self.doc = {"enabled": True, "rollout_percentage": 100, "user_segments": [],
                        "fallback_enabled": True, "monitoring_enabled": True}  # fmt: skip
        self.posts: list[dict[str, object]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            self.posts.append(body)
            base = self.doc or {"enabled": False, "rollout_percentage": 0, "user_segments": [],
                                "fallback_enabled": True, "monitoring_enabled": True}  # fmt: skip
            self.doc = {**base, **{k: v for k, v in body.items() if k in self.FIELDS}}
        if self.doc is None:
            return httpx.Response(404, json={"error": "no such flag"})
        return httpx.Response(200, json=self.doc)


@contextmanager
def provider_of(api: SeedShapedApi, tmp_path: Path) -> Iterator[HttpFlagProvider]:
    """An http flag provider talking to `api` (its audit in a database under `tmp_path`)."""
    from bot.store.database import Database

    db = Database(f"sqlite:///{tmp_path}/audit.db")
    try:
        yield HttpFlagProvider(
            db, ManualClock(), "http://flags.test", REMOTE_TOKEN, "FLAGS_API_TOKEN",
            transport=httpx.MockTransport(api.handle),
        )  # fmt: skip
    finally:
        db.dispose()


def test_a_remote_without_segment_percentages_refuses_the_plan_before_anything_changes(
    local_factory: Callable[..., Rollbot],
) -> None:
    for exists in (True, False):
        api = SeedShapedApi(exists)
        local = local_factory("http://flags.test")
        local.flags.remote.client._transport = httpx.MockTransport(api.handle)  # type: ignore[attr-defined]
        with pytest.raises(RollbotError) as caught:
            local.rollouts.start(FLAG, None, ALICE)
        text = str(caught.value)
        assert "does not hold segment percentages (`segment_rollouts`)" in text, text
        assert "which this rollout needs for internal" in text
        assert "a plan without `segments:` steps" in str(caught.value.hint)
        assert local.rollouts.active() == []
        if exists:  # its document says so: nothing is sent, the flag stays on for everyone
            assert "nothing was sent to it" in text
            assert api.posts == []
            assert api.doc is not None and api.doc["rollout_percentage"] == 100
        else:  # only the check's own change, which it dropped: a new flag, off
            assert "it did not keep them, so nothing was started" in text
            assert api.posts == [{"segment_rollouts": {"internal": 0}}]
            assert api.doc is not None and api.doc["enabled"] is False
        local.db.dispose()


def test_a_remote_without_segment_percentages_still_takes_changes_that_give_none(
    tmp_path: Path,
) -> None:
    api = SeedShapedApi(exists=True)
    with provider_of(api, tmp_path) as provider:
        # A rollback of a plan with segments clears them: there, nothing to clear
        off = provider.apply(FLAG, FlagChange(enabled=False, segment_rollouts={}), ALICE)
        assert off.enabled is False
        assert api.posts == [{"enabled": False}]
        with pytest.raises(FlagProviderError, match="nothing was sent to it"):
            provider.apply(FLAG, FlagChange(segment_rollouts={"internal": 100}), ALICE)
        assert api.posts == [{"enabled": False}]


def test_a_new_flag_whose_remote_drops_the_segments_is_turned_off_and_refused(
    tmp_path: Path,
) -> None:
    api = SeedShapedApi(exists=False)
    staff = FlagChange(enabled=True, rollout_percentage=0, segment_rollouts={"internal": 100})
    with (
        provider_of(api, tmp_path) as provider,
        pytest.raises(FlagProviderError, match="the flag it created was turned off"),
    ):
        provider.apply(FLAG, staff, ALICE)
    assert api.posts[-1] == {"enabled": False}
    assert api.doc is not None and api.doc["enabled"] is False
