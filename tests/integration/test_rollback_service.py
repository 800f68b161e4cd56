"""Triggers, criteria and rollbacks through the services, on SQLite and PostgreSQL, with a
fake metrics provider and a manual clock (the evaluation job is driven directly)."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import ManualClock
from bot.container import Rollbot
from bot.domain.actions import Action
from bot.domain.actor import Actor, Via
from bot.domain.errors import Conflict, InvalidTransition, RollbotError
from bot.domain.roles import Forbidden
from bot.domain.rollout import RolloutState
from bot.domain.secrets import Redactor
from bot.logs import RedactingFilter
from bot.providers.metrics.base import MetricsProviderError
from bot.services.events import Said
from bot.services.rollback.context import Listener
from bot.services.rollback.report import RollbackReport
from bot.services.rollouts.holds import AdvanceHold
from bot.services.rollouts.notifier import ThreadText
from bot.services.rollouts.views import RolloutView
from bot.slack.blocks import chat_text
from bot.slack.mrkdwn import mrkdwn
from bot.store import audit
from bot.store import rollouts as rollouts_repo
from bot.store.rollback_models import RollbackRow
from bot.wording import waiting_line, words
from bot.wording.rollback import step_lines
from tests.fakes.metrics import FakeMetrics
from tests.rollback_support import (
    ERRORS,
    FLAG,
    LATENCY,
    PLAN,
    SUCCESS,
    TICK,
    ThreadRecorder,
    build_rollbot,
    hearing,
    tick,
)

ALICE = Actor("U_ALICE", Via.SLACK)


@pytest.fixture
def heard() -> list[RollbackReport]:
    """Every report the `bot` fixture's rollbacks give their listeners (start and finish)."""
    return []


@pytest.fixture
def holds() -> Sequence[AdvanceHold]:
    """Holds the `bot` fixture asks before every advance: none (a test parametrizes it)."""
    return ()


@pytest.fixture
def listeners() -> Sequence[Listener]:
    """Listeners the `bot` fixture adds before `heard`'s: none (a test parametrizes it)."""
    return ()


@pytest.fixture
def bot(
    rollbot_hearing: Callable[..., Rollbot],
    heard: list[RollbackReport],
    holds: Sequence[AdvanceHold],
    listeners: Sequence[Listener],
) -> Rollbot:
    return rollbot_hearing(holds=holds, rollback_listeners=[*listeners, heard.append])


def flag(bot: Rollbot) -> tuple[bool, int]:
    doc = bot.flags.get(FLAG)
    assert doc is not None
    return doc.enabled, doc.rollout_percentage


def healthy(metrics: FakeMetrics) -> None:
    metrics.set(ERRORS, 0.001)
    metrics.set(LATENCY, 0.1)
    metrics.set(SUCCESS, 0.999)


def test_a_trigger_fires_after_its_consecutive_breaches_and_the_runbook_runs(
    bot: Rollbot,
    clock: ManualClock,
    metrics: FakeMetrics,
    seen: ThreadRecorder,
    heard: list[RollbackReport],
) -> None:
    healthy(metrics)
    bot.rollouts.start(FLAG, None, ALICE)
    assert flag(bot) == (True, 5)
    assert tick(bot, clock) == []
    metrics.set(ERRORS, 0.05)
    assert tick(bot, clock) == []  # one breach is not enough (consecutive: 2)
    assert bot.rollouts.status(FLAG).state is RolloutState.RUNNING
    metrics.set(ERRORS, None)  # no data, ignored: neither counts nor breaks the streak
    assert tick(bot, clock) == []
    metrics.set(ERRORS, 0.07)
    (report,) = tick(bot, clock)
    assert report.automatic and not report.failed and report.finished
    assert [s.name for s in report.steps] == ["Disable the flag", "Drain", "Deploy previous"]
    assert report.triggers[0].name == "error-rate"
    assert report.triggers[0].values == [0.05, 0.07]
    assert flag(bot) == (False, 0)
    view = bot.rollouts.status(FLAG)
    assert view.state is RolloutState.ROLLED_BACK
    assert waiting_line(view).plain().startswith("Rolled back automatically")
    # Why, with the trigger, threshold and measured values, first; then every step.
    why = seen.events[1]  # after the rollout's start
    assert "Automatic rollback of `chat-v2`" in why
    # Slack shows `&gt;` as `>`: the sentence's text is escaped like every other text now.
    assert "`errors_ratio` &gt; 0.01" in why and "0.05, 0.07" in why
    assert any("Step 2/3 started" in e for e in seen.events)
    drained = next(e for e in seen.events if "*Drain* done" in e)
    assert "draining chat-v2 because trigger error-rate fired" in drained
    assert "Rollback of `chat-v2` complete" in seen.events[-1]
    # Listeners heard the start and the finish.
    assert [(r.finished, r.failed) for r in heard] == [(False, False), (True, False)]
    # Audit: the claim, each step's start and result, the end.
    with bot.db.session() as s:
        actions = [e.action for e in audit.events(s, subject_id=FLAG)]
    assert actions.count("rollback.step_finished") == 3
    assert actions[-1] == "rollback.succeeded"
    assert "rollback.started" in actions
    # Rolled back: nothing more is evaluated, nothing more fires.
    assert tick(bot, clock, 3) == []


def test_triggers_stay_armed_while_paused(
    bot: Rollbot, clock: ManualClock, metrics: FakeMetrics
) -> None:
    healthy(metrics)
    bot.rollouts.start(FLAG, None, ALICE)
    bot.rollouts.pause(FLAG, ALICE)
    metrics.set(ERRORS, 0.5)
    tick(bot, clock, 1)
    (report,) = tick(bot, clock, 1)
    assert report.automatic
    assert flag(bot) == (False, 0)


def test_a_good_evaluation_resets_the_streak(
    bot: Rollbot, clock: ManualClock, metrics: FakeMetrics
) -> None:
    healthy(metrics)
    bot.rollouts.start(FLAG, None, ALICE)
    for value in (0.05, 0.001, 0.05, 0.001, 0.05):
        metrics.set(ERRORS, value)
        assert tick(bot, clock) == []
    assert bot.rollouts.status(FLAG).state is RolloutState.RUNNING


def test_missing_data_policies(bot: Rollbot, clock: ManualClock, metrics: FakeMetrics) -> None:
    healthy(metrics)
    bot.rollouts.start(FLAG, None, ALICE)
    metrics.set(ERRORS, None)  # ignore: no data never fires
    metrics.set(LATENCY, MetricsProviderError("Prometheus did not answer"))  # hold
    assert tick(bot, clock, 4) == []
    clock.advance(timedelta(hours=1))
    tick(bot, clock)
    assert bot.rollouts.advance_due() == []  # held: latency has no data
    assert "trigger *latency* has no data" in mrkdwn(waiting_line(bot.rollouts.status(FLAG)))
    assert "Prometheus did not answer" in waiting_line(bot.rollouts.status(FLAG))
    metrics.set(LATENCY, 0.1)
    tick(bot, clock)
    (outcome,) = bot.rollouts.advance_due()
    assert outcome.view.percentage == 25


def test_criteria_hold_a_due_step_until_they_held_over_their_window(
    bot: Rollbot, clock: ManualClock, metrics: FakeMetrics
) -> None:
    healthy(metrics)
    metrics.set(SUCCESS, 0.9)
    bot.rollouts.start(FLAG, None, ALICE)
    clock.advance(timedelta(hours=1))
    tick(bot, clock)
    assert bot.rollouts.advance_due() == []
    waiting = waiting_line(bot.rollouts.status(FLAG))
    assert "Bake time passed; held: success criterion *success* is not met" in mrkdwn(waiting)
    assert "measured 0.9" in waiting and "needs > 0.99" in waiting
    metrics.set(SUCCESS, 0.995)
    tick(bot, clock)  # one good evaluation: window of 2 not yet full
    assert bot.rollouts.advance_due() == []
    assert "(1 so far)" in waiting_line(bot.rollouts.status(FLAG))
    tick(bot, clock)
    (outcome,) = bot.rollouts.advance_due()
    assert outcome.view.percentage == 25
    # A person may still advance past an unmet criterion: the hold is automatic-only.
    metrics.set(SUCCESS, 0.5)
    tick(bot, clock)
    clock.advance(timedelta(seconds=5))
    assert bot.rollouts.advance(FLAG, ALICE).view.percentage == 100


def test_stale_measurements_do_not_let_a_step_advance(
    bot: Rollbot, clock: ManualClock, metrics: FakeMetrics
) -> None:
    healthy(metrics)
    bot.rollouts.start(FLAG, None, ALICE)
    tick(bot, clock, 2)
    clock.advance(timedelta(hours=1))  # no evaluation for an hour
    assert bot.rollouts.advance_due() == []
    assert "waiting for a fresh measurement" in waiting_line(bot.rollouts.status(FLAG))


def test_two_evaluations_in_the_same_moment_count_once(
    bot: Rollbot, clock: ManualClock, metrics: FakeMetrics
) -> None:
    """Two replicas evaluating at the same time must not double-count a breach."""
    healthy(metrics)
    bot.rollouts.start(FLAG, None, ALICE)
    metrics.set(ERRORS, 0.5)
    clock.advance(TICK)
    assert bot.watcher.evaluate() == []
    assert bot.watcher.evaluate() == []  # same instant: not counted again
    assert bot.rollouts.status(FLAG).state is RolloutState.RUNNING


def test_manual_rollback_needs_a_reason_and_an_allowed_role(
    tmp_path: Path, database_url: str, clock: ManualClock, metrics: FakeMetrics
) -> None:
    roles = (
        "roles:\n  ops:\n    name: Operations Lead\n    members: [U_OPS]\n"
        "permissions:\n  rollback: [ops]\n"
    )
    rb = build_rollbot(tmp_path, database_url, clock, metrics, extra_yaml=roles)
    try:
        rb.rollouts.start(FLAG, None, ALICE)
        with pytest.raises(Forbidden, match="Rolling back needs the role Operations Lead"):
            rb.rollback.preview(FLAG, ALICE)
        with pytest.raises(Forbidden):
            rb.rollback.roll_back(FLAG, ALICE, "bad")
        ops = Actor("U_OPS", Via.SLACK)
        with pytest.raises(RollbotError, match="needs a reason"):
            rb.rollback.roll_back(FLAG, ops, "   ")
        preview = rb.rollback.preview(FLAG, ops)
        assert step_lines(preview.steps)[0].plain().startswith("1. Disable the flag")
        assert len(preview.steps) == 3
        report = rb.rollback.roll_back(FLAG, ops, "users report errors")
        assert not report.automatic and not report.failed
        assert flag(rb) == (False, 0)
        # Again: says so, runs nothing.
        with pytest.raises(InvalidTransition, match="already rolled back; nothing was run"):
            rb.rollback.preview(FLAG, ops)
        with pytest.raises(InvalidTransition, match="already rolled back"):
            rb.rollback.roll_back(FLAG, ops, "again")
        with rb.db.session() as s:
            assert len(list(s.exec(select(RollbackRow)))) == 1
    finally:
        rb.db.dispose()


def test_a_completed_rollout_can_be_rolled_back(
    bot: Rollbot, clock: ManualClock, metrics: FakeMetrics
) -> None:
    bot.rollouts.start(FLAG, None, ALICE)
    for _ in range(2):
        clock.advance(timedelta(seconds=5))
        bot.rollouts.advance(FLAG, ALICE)
    assert bot.rollouts.status(FLAG).state is RolloutState.COMPLETED
    assert flag(bot) == (True, 100)
    bot.rollback.roll_back(FLAG, ALICE, "regression found at 100%")
    assert flag(bot) == (False, 0)
    assert bot.rollouts.status(FLAG).state is RolloutState.ROLLED_BACK


FAILING = PLAN.replace("    run: echo deployed\n", "    run: echo kubectl says no >&2; exit 3\n")


def test_a_failed_step_stops_the_runbook_loudly_and_can_be_run_again(
    tmp_path: Path, database_url: str, clock: ManualClock, metrics: FakeMetrics
) -> None:
    plan = FAILING.replace(
        "  - name: Drain\n",
        "  - name: Optional\n    kind: command\n    run: exit 1\n"
        "    continue_on_error: true\n  - name: Drain\n",
    )
    plan += "  - name: Never runs\n    kind: command\n    run: echo never\n"
    extra = "roles:\n  ops:\n    name: Operations Lead\n    members: [U_OPS]\n"
    extra += "rollback:\n  notify_roles: [ops]\n"
    seen = ThreadRecorder()
    heard: list[RollbackReport] = []
    rb = build_rollbot(
        tmp_path, database_url, clock, metrics, plan=plan, extra_yaml=extra, chat=hearing(seen),
        rollback_listeners=[heard.append],
    )  # fmt: skip
    try:
        rb.rollouts.start(FLAG, None, Actor("U_OWNER", Via.SLACK))
        report = rb.rollback.roll_back(FLAG, ALICE, "errors")
        assert report.failed and report.failed_step == "Deploy previous"
        assert [(s.name, s.ok, s.continued) for s in report.steps] == [
            ("Disable the flag", True, False),
            ("Optional", False, True),
            ("Drain", True, False),
            ("Deploy previous", False, False),
        ]
        assert "kubectl says no" in report.steps[-1].output
        assert report.steps[-1].error == "exited with status 3"
        assert flag(rb) == (False, 0)  # the flag went off first all the same
        loud = seen.events[-1]
        assert "ROLLBACK OF `chat-v2` FAILED" in loud and "*Deploy previous*" in loud
        assert "<@U_OWNER>" in loud and "<@U_ALICE>" in loud and "<@U_OPS>" in loud
        assert "1 not run" in loud
        assert not any("Never runs* done" in e for e in seen.events)
        assert "ROLLBACK FAILED at step 'Deploy previous'" in waiting_line(rb.rollouts.status(FLAG))
        assert heard[-1].failed and heard[-1].failed_step == "Deploy previous"
        # A half-done rollback can be run again: a second attempt, not "already rolled back".
        assert rb.rollback.preview(FLAG, ALICE).retry_of_failed
        again = rb.rollback.roll_back(FLAG, ALICE, "retry")
        assert again.rollback_id != report.rollback_id
    finally:
        rb.db.dispose()


def _broken(_report: RollbackReport) -> None:
    raise RuntimeError("incident feature bug")


@pytest.mark.parametrize("listeners", [[_broken]])
def test_a_listener_that_raises_does_not_stop_the_rollback(
    bot: Rollbot, clock: ManualClock, metrics: FakeMetrics, heard: list[RollbackReport]
) -> None:
    bot.rollouts.start(FLAG, None, ALICE)
    report = bot.rollback.roll_back(FLAG, ALICE, "testing")
    assert not report.failed and flag(bot) == (False, 0)
    assert [r.finished for r in heard] == [False, True]  # the listener after it heard both


def test_without_a_metrics_provider_nothing_is_evaluated_or_held(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    rb = build_rollbot(tmp_path, database_url, clock, metrics=None)
    try:
        assert not rb.watcher.enabled
        rb.rollouts.start(FLAG, None, ALICE)
        assert rb.watcher.evaluate() == []
        clock.advance(timedelta(hours=1))
        (outcome,) = rb.rollouts.advance_due()
        assert outcome.view.percentage == 25
    finally:
        rb.db.dispose()


def test_a_running_rollback_blocks_another_until_it_is_abandoned(
    bot: Rollbot, clock: ManualClock
) -> None:
    """A rollback whose process died stays "running"; past its whole budget it may be rerun."""
    bot.rollouts.start(FLAG, None, ALICE)
    rollout_id = bot.rollouts.status(FLAG).id
    with bot.db.session() as s:
        row = rollouts_repo.by_id(s, rollout_id, for_update=True)
        assert row is not None
        row.state, row.active_flag_key = RolloutState.ROLLED_BACK.value, None
        s.add(row)
        s.add(
            RollbackRow(
                rollout_id=rollout_id,
                flag_key=FLAG,
                actor="rollbot",
                reason="died",
                state="running",
                started_at=clock.now(),
            )
        )
    with pytest.raises(Conflict, match="is being rolled back right now"):
        bot.rollback.roll_back(FLAG, ALICE, "again")
    clock.advance(timedelta(hours=1))
    assert bot.rollback.preview(FLAG, ALICE).retry_of_failed
    report = bot.rollback.roll_back(FLAG, ALICE, "finish the job")
    assert not report.failed
    with bot.db.session() as s:
        states = [r.state for r in s.exec(select(RollbackRow).order_by(RollbackRow.attempt))]
    assert states == ["failed", "succeeded"]


class AlwaysHeld:
    """Stands in for a sign-off gate: holds every advance, automatic or not."""

    def hold(self, *args: object, **kwargs: object) -> str | None:
        return "waiting for the Security Lead's sign-off"


@pytest.mark.parametrize("holds", [[AlwaysHeld()]])
def test_triggers_stay_armed_while_a_gate_holds_the_rollout(
    bot: Rollbot, clock: ManualClock, metrics: FakeMetrics
) -> None:
    healthy(metrics)
    bot.rollouts.start(FLAG, None, ALICE)
    clock.advance(timedelta(hours=1))
    tick(bot, clock)
    assert bot.rollouts.advance_due() == []  # the gate holds it
    metrics.set(ERRORS, 0.2)
    tick(bot, clock)
    (report,) = tick(bot, clock)
    assert report.automatic and flag(bot) == (False, 0)


def test_a_flag_provider_that_fails_is_retried_then_reported(
    bot: Rollbot, clock: ManualClock, seen: ThreadRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot.rollouts.start(FLAG, None, ALICE)
    real_apply = bot.rollouts.flags.apply
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1 and kwargs.get("session") is None:
            raise RuntimeError("flag API answered 500")
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(bot.rollouts.flags, "apply", flaky)
    # The plan's flag step has no retries: it fails, the runbook stops, loudly.
    report = bot.rollback.roll_back(FLAG, ALICE, "errors")
    assert report.failed and report.failed_step == "Disable the flag"
    assert "flag API answered 500" in str(report.steps[0].error)
    assert len(report.steps) == 1
    assert flag(bot) == (True, 5)  # still on, and the card says the rollback failed
    assert "ROLLBACK FAILED at step 'Disable the flag'" in waiting_line(bot.rollouts.status(FLAG))
    assert "FAILED" in seen.events[-1]
    # Run again: the provider answers now.
    again = bot.rollback.roll_back(FLAG, ALICE, "errors, again")
    assert not again.failed and flag(bot) == (False, 0)


def test_two_rollbacks_at_the_same_moment_run_the_runbook_once(
    bot: Rollbot, clock: ManualClock, metrics: FakeMetrics, seen: ThreadRecorder
) -> None:
    """A person's /rollback racing an automatic one (or two replicas): one runbook run."""
    healthy(metrics)
    bot.rollouts.start(FLAG, None, ALICE)
    metrics.set(ERRORS, 0.5)
    tick(bot, clock)  # one breach; the next evaluation fires
    clock.advance(TICK)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def by_hand() -> None:
        barrier.wait()
        try:
            outcomes.append(bot.rollback.roll_back(FLAG, ALICE, "by hand"))
        except RollbotError as exc:
            outcomes.append(exc)

    def automatic() -> None:
        barrier.wait()
        outcomes.extend(bot.watcher.evaluate())

    threads = [threading.Thread(target=by_hand), threading.Thread(target=automatic)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    reports = [o for o in outcomes if isinstance(o, RollbackReport)]
    assert len(reports) == 1, outcomes
    assert sum("complete" in e for e in seen.events) == 1
    with bot.db.session() as s:
        assert len(list(s.exec(select(RollbackRow)))) == 1


def test_the_flag_is_off_before_anyone_is_told(
    tmp_path: Path, database_url: str, clock: ManualClock, metrics: FakeMetrics
) -> None:
    """A slow Slack or listener must not delay protecting users: the flag goes off first."""
    flag_at_each_message: list[tuple[bool, str]] = []
    heard: list[bool] = []

    class Watching(ThreadRecorder):
        def post_event(self, view: RolloutView, message: ThreadText) -> None:
            flag_at_each_message.append((flag(bot)[0], chat_text(message)))

    bot = build_rollbot(
        tmp_path, database_url, clock, metrics, chat=hearing(Watching()),
        rollback_listeners=[lambda _r: heard.append(flag(bot)[0])],
    )  # fmt: skip
    bot.rollouts.start(FLAG, None, ALICE)
    bot.rollback.roll_back(FLAG, ALICE, "errors")
    after_start = flag_at_each_message[1:]
    assert "Rollback of `chat-v2`" in after_start[0][1]
    assert [on for on, _ in after_start] == [False] * len(after_start)
    assert heard == [False, False]
    texts = [t for _, t in after_start]
    assert texts[1].startswith(":arrow_forward: Step 1/3 started")
    assert "Step 1/3 *Disable the flag* done" in texts[2]
    assert "Step 2/3 started" in texts[3]


class Crash(BaseException):
    """Stands in for the process dying: nothing in rollbot catches it."""


def _die_before_step_3(bot: Rollbot, monkeypatch: pytest.MonkeyPatch) -> int:
    """Start a rollback by hand and "kill the process" as step 3 of 3 starts: the row stays
    running with two step results and a lease that will run out."""
    post = bot.rollback.runs._post

    def dying(report: RollbackReport, message: Said) -> None:
        if "Step 3/3 started" in words(message).plain():
            raise Crash
        post(report, message)

    monkeypatch.setattr(bot.rollback.runs, "_post", dying)
    bot.rollouts.start(FLAG, None, ALICE)
    with pytest.raises(Crash):
        bot.rollback.roll_back(FLAG, ALICE, "error rate is up")
    monkeypatch.setattr(bot.rollback.runs, "_post", post)
    with bot.db.session() as s:
        row = s.exec(select(RollbackRow)).one()
        assert row.state == "running" and len(row.steps) == 2
        assert row.lease_until is not None
        assert row.id is not None
        return row.id


def test_an_interrupted_rollback_is_resumed_once_from_the_step_in_flight(
    bot: Rollbot,
    clock: ManualClock,
    seen: ThreadRecorder,
    monkeypatch: pytest.MonkeyPatch,
    heard: list[RollbackReport],
) -> None:
    """A process death after step 2: once the lease runs out, the tick re-runs step 3 and
    finishes the rollback, once, even with two ticks (two replicas) racing."""
    rollback_id = _die_before_step_3(bot, monkeypatch)
    assert not flag(bot)[0]  # the flag went off first
    heard.clear()
    seen.events.clear()

    clock.advance(timedelta(minutes=1))
    assert bot.rollback.resume_interrupted() == []  # the lease is live: not touched
    with bot.db.session() as s:
        row = s.get(RollbackRow, rollback_id)
        assert row is not None and row.state == "running" and len(row.steps) == 2
    with pytest.raises(Conflict):  # nor may a person run it again meanwhile
        bot.rollback.roll_back(FLAG, ALICE, "again")

    clock.advance(timedelta(minutes=10))  # past step 3's budget + the grace
    barrier = threading.Barrier(2)
    outcomes: list[RollbackReport] = []
    errors: list[BaseException] = []

    def replica() -> None:
        barrier.wait()
        try:
            outcomes.extend(bot.rollback.resume_interrupted())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(outcomes) == 1, outcomes
    report = outcomes[0]
    assert report.finished and not report.failed
    assert [r.name for r in report.steps] == ["Disable the flag", "Drain", "Deploy previous"]
    assert sum("resumed after a restart: re-running step 3/3" in e for e in seen.events) == 1
    assert sum("Step 3/3 started" in e for e in seen.events) == 1
    assert not any("Step 1/3" in e or "Step 2/3" in e for e in seen.events)
    assert sum("complete" in e for e in seen.events) == 1
    assert [r.finished for r in heard] == [True]  # listeners hear the finish, once
    with bot.db.session() as s:
        row = s.get(RollbackRow, rollback_id)
        assert row is not None
        assert row.state == "succeeded" and len(row.steps) == 3 and row.lease_until is None
        assert len(list(s.exec(select(RollbackRow)))) == 1
        actions = [e.action for e in audit.events(s, subject_id=FLAG)]
    assert actions.count("rollback.resumed") == 1
    assert actions.count("rollback.succeeded") == 1
    # steps 1, 2 and 3 (in flight when it died), then 3 again once resumed
    assert actions.count("rollback.step_started") == 4
    assert actions.count("rollback.step_finished") == 3

    clock.advance(timedelta(hours=1))
    assert bot.rollback.resume_interrupted() == []  # finished: nothing more to resume


def test_the_rollout_tick_resumes_an_interrupted_rollback(
    bot: Rollbot, clock: ManualClock, seen: ThreadRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler's rollout tick is what picks it up after a restart."""
    import bot.scheduler as scheduler

    rollback_id = _die_before_step_3(bot, monkeypatch)
    clock.advance(timedelta(minutes=11))
    monkeypatch.setattr(scheduler, "_running", bot)
    scheduler.rollout_tick()
    with bot.db.session() as s:
        row = s.get(RollbackRow, rollback_id)
        assert row is not None and row.state == "succeeded" and len(row.steps) == 3
    assert any("re-running step 3/3" in e for e in seen.events)


def test_a_failed_rollback_can_still_be_run_again_by_hand_and_is_not_resumed(
    bot: Rollbot, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resuming is for interrupted runs only: a failed one waits for a person, as before."""
    _die_before_step_3(bot, monkeypatch)
    clock.advance(timedelta(hours=1))  # past the whole budget: abandoned
    report = bot.rollback.roll_back(FLAG, ALICE, "finish the job")
    assert not report.failed
    clock.advance(timedelta(hours=1))
    assert bot.rollback.resume_interrupted() == []
    with bot.db.session() as s:
        states = [r.state for r in s.exec(select(RollbackRow).order_by(RollbackRow.attempt))]
    assert states == ["failed", "succeeded"]


SECRETS = {
    "PAGERDUTY_ROUTING_KEY": "routing-key-5678",
    "PAGERDUTY_API_TOKEN": "pd-api-token-4321",
    "ROLLBOT_ALERTMANAGER_TOKEN": "am-token-1234567",
    "PAGERDUTY_WEBHOOK_SECRET": "pd-webhook-secret-89",
    "DEPLOY_KEY": "deploy-key-aaaa",
}
LEAKY_STEPS = """
  - name: Leaky
    kind: command
    run: echo "am=$ROLLBOT_ALERTMANAGER_TOKEN pd=$PAGERDUTY_WEBHOOK_SECRET"
    timeout: 5s
  - name: Asked for by name
    kind: command
    run: echo "key=$KEY"; echo "$KEY" >&2
    env_from: {KEY: DEPLOY_KEY}
    timeout: 5s
"""


def test_no_secret_the_config_names_reaches_a_command_or_a_message(
    tmp_path: Path, database_url: str, clock: ManualClock, metrics: FakeMetrics
) -> None:
    """Every `*_env` the config names is withheld from commands (unless a step asks for it
    with `env_from`) and masked in everything shown, whatever the step prints."""
    seen = ThreadRecorder()
    plan = PLAN.replace("  - name: Drain\n", LEAKY_STEPS.lstrip("\n") + "  - name: Drain\n")
    extra = "rollback:\n  output_tail_chars: 500\n"
    extra += (
        "paging:\n  pagerduty:\n    escalation_policy_id: P0ESC\n"
        "    webhook_secret_env: PAGERDUTY_WEBHOOK_SECRET\n"
    )
    rb = build_rollbot(
        tmp_path,
        database_url,
        clock,
        metrics,
        plan=plan,
        extra_yaml=extra,
        env=SECRETS,
        chat=hearing(seen),
    )
    try:
        assert {"ROLLBOT_ALERTMANAGER_TOKEN", "PAGERDUTY_WEBHOOK_SECRET"} <= (
            rb.settings.secret_names()
        )
        rb.rollouts.start(FLAG, None, ALICE)
        report = rb.rollback.roll_back(FLAG, ALICE, "leak check")
        leaky = next(s for s in report.steps if s.name == "Leaky")
        assert leaky.ok and "am= pd=" in leaky.output  # withheld: the variables are unset
        asked = next(s for s in report.steps if s.name == "Asked for by name")
        assert asked.ok and "key=***" in asked.output
        shown = "\n".join(seen.events) + repr(report)
        with rb.db.session() as s:
            shown += repr([r.steps for r in s.exec(select(RollbackRow))])
        for value in SECRETS.values():
            assert value not in shown
    finally:
        rb.db.dispose()


def test_log_lines_never_carry_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.secrets")
    handler = logging.StreamHandler(io.StringIO())
    handler.addFilter(RedactingFilter(Redactor(SECRETS.values())))
    logger.addHandler(handler)
    try:
        logger.warning("calling with %s", SECRETS["DEPLOY_KEY"])
        try:
            raise RuntimeError(f"refused token {SECRETS['ROLLBOT_ALERTMANAGER_TOKEN']}")
        except RuntimeError:
            logger.exception("it failed")
    finally:
        logger.removeHandler(handler)
    written = handler.stream.getvalue()
    assert "calling with ***" in written and "refused token ***" in written
    assert not any(v in written for v in SECRETS.values())


def test_starting_again_after_a_half_done_rollback_needs_force(
    tmp_path: Path, database_url: str, clock: ManualClock, metrics: FakeMetrics
) -> None:
    rb = build_rollbot(tmp_path, database_url, clock, metrics, plan=FAILING)
    try:
        rb.rollouts.start(FLAG, None, ALICE)
        assert rb.rollback.roll_back(FLAG, ALICE, "errors").failed
        with pytest.raises(InvalidTransition) as refused:
            rb.rollouts.start(FLAG, None, ALICE)
        assert "did not finish (it failed at step 'Deploy previous')" in refused.value.message
        assert "--force" in refused.value.hint
        assert rb.rollouts.active() == []
        started = rb.rollouts.start(FLAG, None, ALICE, force=True)
        assert started.view.percentage == 5  # the plan starts at its first step
        with rb.db.session() as s:
            (event,) = audit.events(s, subject_id=FLAG, action="rollout.started")[-1:]
        assert event.detail == "forced past the unfinished rollback (failed at 'Deploy previous')"
    finally:
        rb.db.dispose()


def test_the_card_says_metrics_are_unreachable_instead_of_a_countdown(
    bot: Rollbot, clock: ManualClock, metrics: FakeMetrics
) -> None:
    bot.rollouts.start(FLAG, None, ALICE)
    assert "advances by itself" in waiting_line(bot.rollouts.status(FLAG))
    for query in (ERRORS, LATENCY, SUCCESS):
        metrics.set(query, MetricsProviderError("Prometheus did not answer"))
    tick(bot, clock)
    waiting = waiting_line(bot.rollouts.status(FLAG))
    assert "Metrics unreachable (Prometheus did not answer)" in waiting
    assert "advances by itself" not in waiting
    healthy(metrics)
    tick(bot, clock)
    assert "Metrics unreachable" not in waiting_line(bot.rollouts.status(FLAG))


UNSAFE = PLAN.replace(
    "    run: echo deployed\n    timeout: 5s\n",
    "    run: echo deployed\n    timeout: 5s\n    idempotent: false\n",
)


@pytest.mark.parametrize("choice", ["rerun", "skip", "abort"])
def test_a_step_not_safe_to_run_twice_waits_for_a_person_after_a_crash(
    tmp_path: Path,
    database_url: str,
    clock: ManualClock,
    metrics: FakeMetrics,
    monkeypatch: pytest.MonkeyPatch,
    choice: str,
) -> None:
    """Step 3 is `idempotent: false` and was in flight when rollbot died: the resumer does not
    run it blindly. The card offers Re-run / Skip / Abort; each is audited."""
    seen = ThreadRecorder()
    bot = build_rollbot(tmp_path, database_url, clock, metrics, plan=UNSAFE, chat=hearing(seen))
    try:
        rollback_id = _die_before_step_3(bot, monkeypatch)
        clock.advance(timedelta(minutes=10))  # the lease ran out
        (waiting,) = bot.rollback.resume_interrupted()
        assert not waiting.finished
        assert any("not safe to run twice" in e for e in seen.events)
        assert not any("Step 3/3 started" in e for e in seen.events)
        card = bot.rollouts.status(FLAG)
        assert "waits for a person at step" in waiting_line(card)
        assert [b.action for b in card.buttons] == [
            Action.RERUN_STEP,
            Action.SKIP_STEP,
            Action.ABORT_ROLLBACK,
        ]
        clock.advance(timedelta(hours=1))
        assert bot.rollback.resume_interrupted() == []  # it waits; no tick takes it
        with pytest.raises(Conflict, match="waits for a decision"):
            bot.rollback.roll_back(FLAG, ALICE, "again")

        report = bot.rollback.decide(rollback_id, choice, ALICE)
        assert report.finished
        with pytest.raises(Conflict, match="not waiting"):
            bot.rollback.decide(rollback_id, choice, ALICE)  # a second click changes nothing
        with bot.db.session() as s:
            row = s.get(RollbackRow, rollback_id)
            assert row is not None
            (decided,) = audit.events(s, subject_id=FLAG, action="rollback.decided")
        assert decided.actor == ALICE.id and decided.after["choice"] == choice
        if choice == "rerun":
            assert not report.failed and row.state == "succeeded"
            assert sum("Step 3/3 started" in e for e in seen.events) == 1
        if choice == "skip":
            assert not report.failed and row.state == "succeeded"
            assert report.steps[-1].error == f"skipped by {ALICE.id}"
            assert not any("Step 3/3 started" in e for e in seen.events)
        if choice == "abort":
            assert report.failed and report.failed_step == "Deploy previous"
            assert row.state == "failed"
        assert Action.RERUN_STEP not in [b.action for b in bot.rollouts.status(FLAG).buttons]
    finally:
        bot.db.dispose()


def test_the_resumer_stops_what_the_dead_run_left_running(
    bot: Rollbot, clock: ManualClock, seen: ThreadRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kill -9` leaves the step's command running; it carries the rollback's id in its
    environment, and the resumer stops it before the rollback goes on."""
    rollback_id = _die_before_step_3(bot, monkeypatch)
    orphan = subprocess.Popen(
        ["sleep", "60"],
        env={**os.environ, "ROLLBOT_ROLLBACK_ID": f"{bot.db.fingerprint}-{rollback_id}"},
        start_new_session=True,
    )
    # Another rollbot's rollback with the same id (another database) is left alone.
    bystander = subprocess.Popen(
        ["sleep", "60"],
        env={**os.environ, "ROLLBOT_ROLLBACK_ID": f"0123456789ab-{rollback_id}"},
        start_new_session=True,
    )
    try:
        clock.advance(timedelta(minutes=10))
        (report,) = bot.rollback.resume_interrupted()
        assert report.finished and not report.failed
        assert orphan.wait(timeout=10) == -signal.SIGKILL
        assert bystander.poll() is None  # only this rollback's own processes
        assert any(
            "Stopped 1 process(es) the interrupted run left behind" in e for e in seen.events
        )
    finally:
        orphan.kill()
        bystander.kill()
