"""Digests in the shell: `/rollout digest` prints the digest, and a scheduled digest prints
as a channel message."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.config.settings import load_settings
from bot.container import Rollbot, build
from bot.shell.chat import ShellChat
from bot.shell.repl import Shell
from tests.conftest import NO_GATES

REPO = Path(__file__).resolve().parent.parent
PLANS_DIR = REPO / "config" / "plans"
DIGESTS = "digests:\n  - {name: daily, channel: C_DIGEST, cron: '0 9 * * *', timezone: UTC}\n"


@pytest.fixture
def chat() -> ShellChat:
    return ShellChat(io.StringIO(), templates_dir=REPO / "templates")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()  # Monday 2026-11-02 09:00 UTC


def _bot(tmp_path: Path, clock: ManualClock, chat: ShellChat, extra: str) -> Rollbot:
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {PLANS_DIR}\n  default_plan: realtime-features\n"
        + NO_GATES
        + extra,
        encoding="utf-8",
    )
    settings = load_settings(env={"DATABASE_URL": f"sqlite:///{tmp_path}/r.db"}, config_path=config)
    return build(settings, clock=clock, chat=chat.ports)


@pytest.fixture
def rb(tmp_path: Path, clock: ManualClock, chat: ShellChat) -> Iterator[Rollbot]:
    bot = _bot(tmp_path, clock, chat, DIGESTS)
    try:
        yield bot
    finally:
        bot.db.dispose()


def _run(rb: Rollbot, chat: ShellChat, text: str) -> str:
    out = chat.out
    assert isinstance(out, io.StringIO)
    start = len(out.getvalue())
    Shell(rb, chat, io.StringIO(text), user="you").run()
    return out.getvalue()[start:]


def test_rollout_digest_prints_the_digest(rb: Rollbot, chat: ShellChat) -> None:
    out = _run(rb, chat, "/rollout digest\n")
    assert "Status digest: daily" in out and "Nothing to report" in out
    out = _run(rb, chat, "/rollout start realtime-features\n/rollout digest daily\n")
    assert "Active rollouts (1)" in out
    assert "realtime-features · running · 0%" in out
    assert "Scorecard: realtime-features" in out and "no data" in out


def test_an_unknown_digest_lists_the_configured_ones(rb: Rollbot, chat: ShellChat) -> None:
    out = _run(rb, chat, "/rollout digest nightly\n")
    assert "There is no digest `nightly`" in out and "`daily`" in out


def test_without_digests_configured_the_default_digest_shows(
    tmp_path: Path, clock: ManualClock, chat: ShellChat
) -> None:
    bot = _bot(tmp_path, clock, chat, "")
    try:
        out = _run(bot, chat, "/rollout digest\n")
        assert "Status digest: digest" in out and "Nothing to report" in out
    finally:
        bot.db.dispose()


def test_a_scheduled_digest_prints_as_a_channel_message(
    rb: Rollbot, chat: ShellChat, clock: ManualClock
) -> None:
    assert rb.digests is not None
    rb.digests.run_due()
    clock.advance(timedelta(days=1, seconds=5))
    (posted,) = rb.digests.run_due()
    assert posted.delivered
    out = chat.out.getvalue()
    assert "[#C_DIGEST] Status digest: daily" in out
