"""The http flag provider against a real flag API: another rollbot's built-in /flags, served by
uvicorn on an ephemeral port. Rollouts run in a local rollbot whose `flags.provider` is http.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
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


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Remote]:
    config = tmp_path / "remote.yaml"
    config.write_text(NO_GATES + f"rollouts:\n  plans_dir: {PLANS_DIR}\n", encoding="utf-8")
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
    assert remote.flag() == FlagDocument(enabled=True, rollout_percentage=5)
    local.rollouts.advance(FLAG, ALICE, expected_step=1)
    assert remote.flag() == FlagDocument(enabled=True, rollout_percentage=25)
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
    local.flags.remote.client.headers["Authorization"] = "Bearer stolen-wrong-token"  # type: ignore[attr-defined]
    with pytest.raises(RollbotError) as caught:
        local.rollouts.advance(FLAG, ALICE, expected_step=0)
    text = str(caught.value)
    assert "401" in text and "FLAGS_API_TOKEN" in text
    assert "stolen-wrong-token" not in text and REMOTE_TOKEN not in text
    assert local.rollouts.status(FLAG).percentage == 0
    assert remote.flag() == FlagDocument(enabled=False, rollout_percentage=0)
    with local.db.session() as s:
        assert [e.action for e in audit.events(s, subject_id=FLAG)] == [
            "flag.created", "rollout.started",
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

    def flag_api(request: httpx.Request) -> httpx.Response:
        time.sleep(0.3)  # a slow remote: both starts are inside their transactions together
        if request.method == "POST":
            posts.append(request.content)
            return httpx.Response(200, json={"enabled": False, "rollout_percentage": 0})
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
        assert len(posts) == 1
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
