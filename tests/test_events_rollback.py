"""Rollback events as data: every kind the rollout's thread may keep in the outbox reads back as
it was written, and the adapters' words for each (user text kept as plain text)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bot.domain.actor import SCHEDULER, Actor, Via
from bot.domain.message import Message, Preformatted, Strong
from bot.domain.roles import Role
from bot.domain.rollback import FiredTrigger
from bot.domain.runbook import CommandStep, FlagStep, SqlStep, WaitForHealthStep
from bot.providers.runbook.base import StepResult
from bot.services.events import Event, said_data, said_of
from bot.services.rollback import events
from bot.wording import WORDS, words
from bot.wording.rollback import step_lines

AT = datetime(2024, 5, 1, 12, 30, 0)
ALICE = Actor("U_ALICE", Via.SLACK)
STEPS = [
    FlagStep(kind="flag", name="Disable the flag"),
    FlagStep(
        kind="flag",
        name="Collab off",
        flag="realtime-collab",
        set={"enabled": False, "segment_rollouts": {"beta": 0}},
    ),
    CommandStep(kind="command", name="Drain", run="kubectl drain <pod>"),
    SqlStep(kind="sql", name="Restore", database="app", statements=["a", "b"], skip_if="select 1"),
    WaitForHealthStep(
        kind="wait_for_health", name="Healthy", query="up", comparison=">", threshold=0.5
    ),
]
FIRED = FiredTrigger("errors", "5xx ratio", "errors_ratio", ">", 0.05, "ratio", 3, [0.1, None], AT)
OPS = Role("ops", "Operations", ("U_OPS",), "S_OPS")

EVENTS: list[Event] = [
    events.RollbackStarted(
        "chat-v2", False, ALICE, "users report <!channel> errors", AT, events.steps_shown(STEPS)
    ),
    events.RollbackStarted(
        "chat-v2",
        True,
        SCHEDULER,
        "trigger errors fired",
        AT,
        events.steps_shown(STEPS[:1]),
        (FIRED,),
    ),
    events.RollbackResumed(1, 3),
    events.RollbackStepStarted(0, 5, events.step_shown(STEPS[1])),
    events.RollbackStepFinished(
        2, 5, StepResult("Drain", "command", False, 2, 1.25, "<out>", "exit 1")
    ),
    events.RollbackFinished(
        "chat-v2", 5, 3, 2, 75.0, True, "Drain", "restart", True, ("U_ALICE",), (OPS,)
    ),
    events.RollbackWaiting(2, 5, "Drain"),
    events.RollbackDecided("skip", ALICE, "Drain"),
    events.LeftoversStopped(2),
    events.BackupTaken("realtime_backup", "CREATE TABLE: 10 rows"),
    events.BackupNotTaken("realtime_backup", "app"),
]

# The card's waiting lines and notes, with their words as the watcher wrote them before.
CARD: list[tuple[Any, str]] = [
    (events.MetricsUnreachableWait("Prometheus did not answer"),
     "Metrics unreachable (Prometheus did not answer): automatic steps wait until they "
     "answer; advance by hand if you must."),
    (events.RollbackWait("running", True, "rollbot", "trigger errors fired", 2),
     "Rolling back automatically: 2 step(s) done so far. Reason: trigger errors fired"),
    (events.RollbackWait("waiting", False, "U_ALICE", "users report errors", 1, "Drain"),
     "Rollback waits for a person at step Drain: it was running when rollbot stopped and is "
     "not safe to run twice. Re-run it, skip it or abort the rollback."),
    (events.RollbackWait("failed", False, "U_ALICE", "users report errors", 1, "Drain"),
     "ROLLBACK FAILED at step 'Drain' (rolled back by @U_ALICE): the rollback is half done. "
     "Run /rollback again or finish it by hand."),
    (events.RollbackWait("succeeded", False, "ann", "users report <!channel> errors", 3),
     "Rolled back by ann: users report <!channel> errors"),
    (events.CriterionHolds(Message("success criterion ", Strong("error-rate-low"), " is not met")),
     "Bake time passed; held: success criterion error-rate-low is not met."),
    (events.BaselineNote((
        events.BaselineReading("engagement", 1204.0, 1512.0, "", "+20%"),
        events.BaselineReading("signups", None, 12.5, "per s", "+5%", "timed out"),
    )),
     "Against the baseline before the start: engagement: baseline 1,204, now 1,512 "
     "(+25.6%, needs +20%); signups: no baseline (timed out), now 12.5 per s (needs +5%)."),
]  # fmt: skip


@pytest.mark.parametrize("said", [*EVENTS, *(e for e, _ in CARD)], ids=lambda e: e.kind)
def test_every_rollback_event_reads_back_from_the_outbox_as_it_was(said: Event) -> None:
    data = said_data(said)
    assert data["event"] == said.kind
    assert said_of(data) == said
    assert words(said_of(data)) == words(said)


def test_the_first_message_says_who_why_and_what_runs() -> None:
    manual = words(EVENTS[0])
    assert manual.plain() == (
        "Rollback of chat-v2 started by @U_ALICE at 2024-05-01 12:30:00 UTC: users report "
        "<!channel> errors\nThe flag is turned off first, then the runbook runs:\n"
        "1. Disable the flag: set the flag (enabled=False, rollout_percentage=0)\n"
        "2. Collab off: set the flag realtime-collab (enabled=False, "
        "segment_rollouts={'beta': 0})\n"
        "3. Drain: run kubectl drain <pod>\n"
        "4. Restore: 2 SQL statement(s) in one transaction on database app, skipped when "
        "select 1\n"
        "5. Healthy: wait until healthy: up > 0.5 (up to 5m)"
    )
    # The reason is what a person typed: a plain str part, escaped by the adapter.
    assert any(isinstance(p, str) and "<!channel>" in p for p in manual.parts)
    automatic = words(EVENTS[1]).plain()
    assert automatic.startswith(
        "Automatic rollback of chat-v2 at 2024-05-01 12:30:00 UTC: trigger errors (5xx ratio): "
        "errors_ratio > 0.05 ratio for 3 evaluations in a row (measured 0.1 ratio, no data)."
    )


def test_the_words_of_each_step_and_the_end() -> None:
    assert words(EVENTS[2]).plain() == (
        "Rollback resumed after a restart: re-running step 2/3 (it may have been in flight "
        "when rollbot stopped) and the steps after it."
    )
    assert words(EVENTS[3]).plain() == (
        "Step 1/5 started: Collab off: set the flag realtime-collab (enabled=False, "
        "segment_rollouts={'beta': 0})"
    )
    failed = words(EVENTS[4])
    assert failed.plain() == "Step 3/5 Drain failed after 1.2 s, 2 attempts: exit 1\n<out>"
    assert Preformatted("<out>") in failed.parts
    assert words(EVENTS[5]).plain() == (
        "ROLLBACK OF chat-v2 FAILED at step Drain. 2 of 5 steps done, 2 not run: the rollback "
        "is only half done and needs a person now. @U_ALICE Operations (@U_OPS, @S_OPS) please "
        "take over (/rollback chat-v2 restart runs the runbook again)."
    )
    done = events.RollbackFinished("chat-v2", 3, 3, 3, 12.0)
    assert words(done).plain() == (
        "Rollback of chat-v2 complete in 12.0 s: 3/3 steps done. The rollout is rolled back."
    )


def test_the_words_of_waiting_deciding_and_the_backup() -> None:
    assert words(EVENTS[6]).plain().startswith("Rollback stopped at step 3/5 Drain: it was")
    assert words(EVENTS[7]).plain() == "@U_ALICE skips step Drain."
    assert words(EVENTS[8]).plain() == (
        "Stopped 2 process(es) the interrupted run left behind, so no step runs twice at once."
    )
    assert words(EVENTS[9]).plain() == (
        "Data backup realtime_backup before the first users:\nCREATE TABLE: 10 rows"
    )
    assert (
        words(EVENTS[10])
        .plain()
        .startswith("Data backup realtime_backup was NOT taken: database 'app' has no URL here")
    )


def test_a_preview_shows_numbered_steps() -> None:
    lines = step_lines(events.steps_shown(STEPS[2:3]))
    assert [line.plain() for line in lines] == ["1. Drain: run kubectl drain <pod>"]


def test_a_finished_step_kept_before_it_carried_its_result_reads_back() -> None:
    """An outbox row written by the release whose event copied the step's fields still
    reads back and says the same words after an upgrade."""
    older = {
        "event": "rollback.step_finished",
        "data": {
            "index": 2,
            "total": 5,
            "name": "Drain",
            "ok": False,
            "attempts": 2,
            "duration_s": 1.2,
            "output": "<out>",
            "error": "exit 1",
            "continued": False,
        },
    }
    said = said_of(older)
    assert isinstance(said, events.RollbackStepFinished)
    assert said.result.error == "exit 1"
    assert words(said).plain() == "Step 3/5 Drain failed after 1.2 s, 2 attempts: exit 1\n<out>"


@pytest.mark.parametrize(("said", "plain"), CARD, ids=lambda x: type(x).__name__)
def test_the_cards_lines_are_worded_as_the_watcher_worded_them(said: Event, plain: str) -> None:
    assert words(said).plain() == plain


def test_every_rollback_event_has_a_sample() -> None:
    kinds = {type(e) for e in EVENTS} | {type(e) for e, _ in CARD}
    mine = {cls for cls in WORDS if cls.__module__.startswith("bot.services.rollback")}
    assert mine == kinds


def test_the_rollbacks_reason_and_the_metrics_error_stay_plain_parts() -> None:
    assert "users report <!channel> errors" in words(CARD[4][0]).parts
    assert "Prometheus did not answer" in words(CARD[0][0]).parts
