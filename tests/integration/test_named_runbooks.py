"""Risk-specific runbooks through the services and the shell's command text: a trigger runs
the runbook it names, a partial one leaves the rollout running and paused (and says so),
`/rollback <flag> [runbook]` offers and runs them, and an interrupted partial run resumes
as itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.commands.rollback import run_rollback_direct
from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.domain.errors import NotFound
from bot.domain.rollout import RolloutState
from bot.shell.render import render_reply
from bot.shell.text import text as plain
from tests.fakes.metrics import FakeMetrics
from tests.rollback_support import RUNBOOKS_PLAN as PLAN
from tests.rollback_support import ThreadRecorder, dying_at, tick

FLAG = "chat-v2"
OPS = Actor("U_OPS", Via.SHELL)


@pytest.fixture
def bot(rollbot_hearing: Callable[..., Rollbot]) -> Rollbot:
    return rollbot_hearing(plan=PLAN)


def flag(bot: Rollbot, key: str = FLAG) -> tuple[bool, int] | None:
    doc = bot.flags.get(key)
    return (doc.enabled, doc.rollout_percentage) if doc else None


def shell(bot: Rollbot, text: str) -> str:
    return render_reply(run_rollback_direct(text, OPS, bot.rollback))


def test_memory_runs_the_restart_runbook_not_the_full_rollback(
    bot: Rollbot, clock: ManualClock, metrics: FakeMetrics, seen: ThreadRecorder
) -> None:
    metrics.set("errors", 0.001)
    metrics.set("memory", 0.5)
    bot.rollouts.start(FLAG, None, OPS)
    assert tick(bot, clock, 2) == []
    metrics.set("memory", 0.93)
    assert tick(bot, clock) == []
    (report,) = tick(bot, clock)
    assert report.runbook == "restart" and report.partial and not report.failed
    assert [s.name for s in report.steps] == ["Restart the servers", "Scale down"]
    assert "restarted chat-v2" in report.steps[0].output
    view = bot.rollouts.status(FLAG)
    assert view.state == RolloutState.PAUSED.value and view.percentage == 5
    assert flag(bot) == (True, 5)  # users keep the feature
    thread = "\n".join(seen.events)
    assert "Runbook `restart` for `chat-v2`" in thread and "memory usage &gt; 80%" in thread
    assert "stays on at 5% and its rollout is paused (not rolled back)" in thread
    assert "The rollout of `chat-v2` is still running, paused" in thread
    assert "Disable the flag" not in thread
    # Still high: it ran once for this streak. Then the error rate breaches too: the full
    # rollback runs, paused or not.
    assert tick(bot, clock, 2) == []
    metrics.set("errors", 0.05)
    tick(bot, clock)
    (full,) = tick(bot, clock)
    assert full.runbook == "full" and not full.partial
    assert bot.rollouts.status(FLAG).state == RolloutState.ROLLED_BACK.value
    assert flag(bot) == (False, 0)


def test_rollback_offers_the_runbooks_and_runs_the_one_named(bot: Rollbot) -> None:
    bot.rollouts.start(FLAG, None, OPS)
    preview = shell(bot, FLAG)
    assert "Roll back `chat-v2` (now running, 5%)?" in preview
    assert "Other runbooks of this plan" in preview
    assert "• `restart`: memory leaks: restart the servers" in preview
    assert "• `collab-off`: state synchronisation: disable collaborative features" in preview
    partial = shell(bot, f"{FLAG} collab-off")
    assert "Run the runbook `collab-off`" in partial and "the flag stays on" in partial
    assert "1. Disable collaborative features: set the flag `chat-v2-collab`" in partial
    assert "/rollback chat-v2 collab-off <reason>" in partial
    assert flag(bot, "chat-v2-collab") is None  # showing runs nothing
    done = shell(bot, f"{FLAG} collab-off edits conflict between users")
    assert "Runbook `collab-off` ran for `chat-v2`: 1 steps done" in done
    assert "still running, paused: `/rollout resume chat-v2`" in done
    assert flag(bot, "chat-v2-collab") == (False, 0)
    assert flag(bot) == (True, 5)
    with bot.db.session() as s:
        from bot.store import rollbacks, rollouts

        row = rollouts.latest_for_flag(s, FLAG)
        assert row is not None and row.id is not None
        last = rollbacks.latest_rollback(s, row.id)
        assert last is not None and last.reason == "edits conflict between users"
        assert rollbacks.runbook_of(last, "full") == "collab-off"
    bot.rollouts.resume(FLAG, OPS)
    # A second word that names no runbook is the start of the reason: the full rollback.
    full = shell(bot, f"{FLAG} errors are up")
    assert "is rolled back" in full
    assert flag(bot) == (False, 0)
    refused = shell(bot, f"{FLAG} restart memory again")
    assert "already rolled back" in refused and "partial runbook restart was not run" in refused


def test_an_unknown_runbook_is_refused(bot: Rollbot) -> None:
    bot.rollouts.start(FLAG, None, OPS)
    with pytest.raises(NotFound) as refused:
        bot.rollback.preview(FLAG, OPS, "teleport")
    assert "no runbook called 'teleport'" in plain(refused.value.message)
    assert "full, restart, collab-off" in plain(refused.value.hint or "")
    with pytest.raises(NotFound):
        bot.rollback.roll_back(FLAG, OPS, "a reason", "teleport")
    assert flag(bot) == (True, 5)  # nothing ran
    assert bot.rollouts.status(FLAG).state == RolloutState.RUNNING.value


def test_an_interrupted_partial_runbook_resumes_as_itself(
    bot: Rollbot, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, seen: ThreadRecorder
) -> None:
    bot.rollouts.start(FLAG, None, OPS)
    with dying_at(monkeypatch, bot, "Step 2/2 started"):
        bot.rollback.roll_back(FLAG, OPS, "memory leak", "restart")
    assert "being rolled back right now" in shell(bot, f"{FLAG} collab-off conflicts")
    clock.advance(timedelta(minutes=10))
    (resumed,) = bot.rollback.resume_interrupted()
    assert resumed.runbook == "restart" and resumed.partial and not resumed.failed
    assert [s.name for s in resumed.steps] == ["Restart the servers", "Scale down"]
    assert bot.rollouts.status(FLAG).state == RolloutState.PAUSED.value
    assert flag(bot) == (True, 5)
    assert "The rollout of `chat-v2` is still running, paused" in "\n".join(seen.events)
