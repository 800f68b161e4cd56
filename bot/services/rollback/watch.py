"""Watching metrics: evaluate every active rollout's triggers and criteria, fire rollbacks.

The scheduler calls `MetricsWatcher.evaluate()` every `metrics.evaluation_seconds`. Queries
run outside any lock (they are network calls); their results are then counted under the
rollout's row lock, so two replicas evaluating at the same moment count once: an observation
is only counted when the condition was not already counted in the last half interval.
Triggers stay armed in every active state, paused and held-by-a-gate included.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.domain.actions import Action
from bot.domain.message import Code, Message, Strong, person
from bot.domain.plan import Plan
from bot.domain.rollback import FiredTrigger
from bot.domain.rollout import ACTIVE_STATES, RolloutSnapshot, RolloutState
from bot.domain.triggers import (
    Condition,
    Criterion,
    Streak,
    Trigger,
    Verdict,
    criterion_hold_reason,
    fires,
    judge_criterion,
    judge_trigger,
    observe,
)
from bot.providers.metrics.base import MetricsProvider, MetricsProviderError
from bot.services.rollback.report import RollbackReport
from bot.services.rollback.service import RollbackService
from bot.services.rollouts.views import Button, RolloutView, plan_of
from bot.store import rollbacks, rollouts
from bot.store.models import RolloutRow
from bot.store.rollback_models import TRIGGER_STEP, ConditionRow

log = logging.getLogger(__name__)

TRIGGER, CRITERION = "trigger", "criterion"
RECENT_VALUES = 10


@dataclass(frozen=True)
class Measurement:
    """One query's answer: a value, or no data, and the error when the query failed."""

    value: float | None
    error: str | None = None


class MetricsWatcher:
    """Evaluates triggers and criteria; fires automatic rollbacks."""

    def __init__(
        self,
        rollback: RollbackService,
        metrics: MetricsProvider,
        interval: timedelta = timedelta(seconds=15),
    ) -> None:
        self.rollback = rollback
        self.rollouts = rollback.rollouts
        self.db = rollback.db
        self.clock = rollback.clock
        self.metrics = metrics
        self.interval = interval
        self._reported: set[str] = set()

    @property
    def enabled(self) -> bool:
        """False when no metrics provider is configured (nothing can be measured)."""
        return self.metrics.name != "none"

    def evaluate(self) -> list[RollbackReport]:
        """One evaluation of every active rollout; return the rollbacks it ran."""
        if not self.enabled:
            return []
        with self.db.read() as s:
            active = [(r.id, plan_of(r), r.step_index, r.state) for r in rollouts.active(s)]
        # Evaluate every rollout first, then run the rollbacks: a long runbook must not delay
        # the evaluation (and the flag-off step) of another rollout that fired at the same time.
        to_roll_back: list[tuple[int, list[FiredTrigger]]] = []
        for rollout_id, plan, index, state in active:
            assert rollout_id is not None
            try:
                fired = self._evaluate_one(rollout_id, plan, index, state)
            except Exception:
                log.exception("evaluating rollout %s failed", rollout_id)
                continue
            if fired:
                to_roll_back.append((rollout_id, fired))
        reports: list[RollbackReport] = []
        for rollout_id, fired in to_roll_back:
            try:
                report = self.rollback.roll_back_automatically(rollout_id, fired)
            except Exception:
                # Logged loudly; the trigger still breaches, so the next evaluation tries again.
                log.exception("automatic rollback of rollout %s failed to start", rollout_id)
                continue
            if report is not None:
                reports.append(report)
        return reports

    def _measure(self, condition: Condition) -> Measurement:
        try:
            return Measurement(self.metrics.query(condition.query))
        except MetricsProviderError as exc:
            return Measurement(None, str(exc)[:300])

    def _evaluate_one(
        self, rollout_id: int, plan: Plan, index: int, state: str
    ) -> list[FiredTrigger]:
        triggers = plan.triggers_for(index)
        criteria = plan.criteria_for(index) if state == RolloutState.RUNNING.value else []
        measured = {("t", t.name): self._measure(t) for t in triggers}
        measured.update({("c", c.name): self._measure(c) for c in criteria})
        now = self.clock.now()
        fired: list[FiredTrigger] = []
        with self.db.session() as s:
            row = rollouts.claim(s, rollout_id, skip_locked=self.db.is_postgres)
            if row is None or RolloutState(row.state) not in ACTIVE_STATES:
                return []  # another replica has it, or it ended meanwhile
            if row.step_index != index:
                return []  # moved on while we measured: the next evaluation sees its step
            for trigger in triggers:
                cond = self._count(s, rollout_id, TRIGGER, trigger, TRIGGER_STEP, measured, now)
                # No "already fired" guard here: the rollback's claim under the rollout lock
                # is what makes it run once, and a claim that failed must be tried again.
                if cond is not None and fires(trigger, _streak(cond)):
                    cond.fired_at = cond.fired_at or now
                    s.add(cond)
                    values = cond.recent[-cond.bad :] if cond.bad else []
                    fired.append(FiredTrigger.of(trigger, values, now))
            for criterion in criteria:
                self._count(s, rollout_id, CRITERION, criterion, index, measured, now)
        return fired

    def _count(
        self,
        s: Session,
        rollout_id: int,
        kind: str,
        condition: Condition,
        step_index: int,
        measured: dict[tuple[str, str], Measurement],
        now: datetime,
    ) -> ConditionRow | None:
        """Count one observation; None when it was already counted this interval."""
        row = rollbacks.condition(s, rollout_id, kind, condition.name, step_index)
        if row is None:
            row = rollbacks.new_condition(s, rollout_id, kind, condition.name, step_index)
        elif row.evaluated_at is not None and now - row.evaluated_at < self.interval / 2:
            return None  # another replica counted it moments ago
        m = measured[("t" if kind == TRIGGER else "c", condition.name)]
        if isinstance(condition, Trigger):
            verdict = judge_trigger(condition, m.value)
        else:
            assert isinstance(condition, Criterion)
            verdict = judge_criterion(condition, m.value)
        streak = observe(_streak(row), verdict)
        if verdict is Verdict.GOOD and kind == TRIGGER:
            row.fired_at = None  # healthy again: a new streak may fire
        if m.error and m.error not in self._reported:
            # Once per distinct error: an unreachable Prometheus fails every query alike.
            self._reported.add(m.error)
            log.warning("metrics query failed (no data until it answers): %s", m.error)
        row.bad, row.good, row.last = streak.bad, streak.good, verdict.value
        row.value, row.error, row.evaluated_at = m.value, m.error, now
        if verdict in (Verdict.BAD, Verdict.GOOD):
            # Only counted observations, so the tail of `recent` is the current streak's values.
            row.recent = [*row.recent, m.value][-RECENT_VALUES:]
        s.add(row)
        return row


def _streak(row: ConditionRow) -> Streak:
    return Streak(row.bad, row.good, Verdict(row.last) if row.last else None)


class CriteriaHold:
    """An `AdvanceHold` for automatic advances only: the step's success criteria must have
    held over their window, and no trigger with `missing_data: hold` may lack data."""

    def __init__(self, watcher: MetricsWatcher) -> None:
        self.watcher = watcher

    def hold(
        self,
        session: Session,
        row: RolloutRow,
        plan: Plan,
        snapshot: RolloutSnapshot,
        at: datetime,
        automatic: bool,
    ) -> Message | None:
        """Why the step may not advance by itself yet, or None."""
        if not automatic or not self.watcher.enabled:
            return None
        assert row.id is not None
        stale = at - 3 * self.watcher.interval
        for trigger in plan.triggers_for(snapshot.step_index):
            cond = rollbacks.condition(session, row.id, TRIGGER, trigger.name, TRIGGER_STEP)
            if cond is not None and cond.last == Verdict.HOLD.value:
                why = f" ({cond.error})" if cond.error else ""
                return Message(
                    "trigger ",
                    Strong(trigger.name),
                    f" has no data{why} and its missing_data policy is hold",
                )
        for criterion in plan.criteria_for(snapshot.step_index):
            cond = rollbacks.condition(
                session, row.id, CRITERION, criterion.name, snapshot.step_index
            )
            reading = rollbacks.reading(cond)
            if reading is not None and reading.at is not None and reading.at < stale:
                return Message(
                    "success criterion ",
                    Strong(criterion.name),
                    f" was last measured at {reading.at:%H:%M:%S} UTC; "
                    "waiting for a fresh measurement",
                )
            reason = criterion_hold_reason(criterion, reading)
            if reason is not None:
                return reason
        return None


class RolloutNotes:
    """An annotator (`RolloutService.annotators`): the card's "waiting for" line when metrics
    or a rollback explain it better than the plan alone."""

    def __init__(self, hold: CriteriaHold) -> None:
        self.hold = hold

    def preload(self, s: Session, rows: Sequence[RolloutRow]) -> None:
        """A `RolloutContext.preloads` entry: the stored conditions of many rollouts' cards
        (and a tick's holds) read in one query, when metrics are watched at all."""
        if self.hold.watcher.enabled:
            rollbacks.preload_conditions(s, [r.id for r in rows if r.id is not None])

    def __call__(
        self, s: Session, row: RolloutRow, view: RolloutView, now: datetime
    ) -> RolloutView:
        """The view, its "waiting for" line replaced when metrics or a rollback explain it."""
        note = self.note(s, row, view, now)
        view = replace(view, waiting_for=note) if note else view
        if row.state == RolloutState.ROLLED_BACK.value and row.id is not None:
            last = rollbacks.latest_rollback(s, row.id)
            if last is not None and last.state == "waiting" and last.id is not None:
                value = json.dumps({"rollback": last.id})
                step = last.failed_step or "the step"
                view = replace(
                    view,
                    buttons=[
                        Button(f"Re-run “{step}”", Action.RERUN_STEP, value, "primary"),
                        Button(f"Skip “{step}”", Action.SKIP_STEP, value),
                        Button("Abort the rollback", Action.ABORT_ROLLBACK, value, "danger"),
                    ],
                )
        return view

    def _unreachable(self, s: Session, row: RolloutRow) -> str | None:
        if not self.hold.watcher.enabled:
            return None
        return _unreachable_error(s, row)

    def note(self, s: Session, row: RolloutRow, view: RolloutView, now: datetime) -> Message | None:
        """A criterion holding a due step, or the state of the rollback."""
        assert row.id is not None
        if row.state == RolloutState.ROLLED_BACK.value:
            return _rollback_note(s, row.id)
        unreachable = self._unreachable(s, row)
        if unreachable is not None and row.state == RolloutState.RUNNING.value:
            # A countdown to an advance that cannot happen would mislead: say why it waits.
            return Message(
                "Metrics unreachable (",
                unreachable,
                "): automatic steps wait until they answer; advance by hand if you must.",
            )
        if (
            row.state == RolloutState.RUNNING.value
            and row.step_due_at is not None
            and row.step_due_at <= now
            and view.auto_advance
        ):
            plan = plan_of(row)
            snap = RolloutSnapshot(
                RolloutState.RUNNING,
                row.step_index,
                row.percentage,
                row.step_started_at,
                row.step_due_at,
            )
            reason = self.hold.hold(s, row, plan, snap, now, automatic=True)
            if reason is not None:
                return Message("Bake time passed; held: ", reason, ".")
        return None


def _unreachable_error(s: Session, row: RolloutRow) -> str | None:
    """The error of the latest evaluation when every query of it failed (else None)."""
    assert row.id is not None
    latest = rollbacks.latest_evaluation(s, row.id, row.step_index)
    if not latest or not all(c.error for c in latest):
        return None  # nothing measured yet, or some queries answer
    return latest[-1].error


def _rollback_note(s: Session, rollout_id: int) -> Message | None:
    last = rollbacks.latest_rollback(s, rollout_id)
    if last is None:
        return None
    how = Message("automatically") if last.automatic else Message("by ", person(last.actor))
    if last.state == "running":
        done = len(last.steps)
        return Message("Rolling back ", how, f": {done} step(s) done so far. Reason: ", last.reason)
    if last.state == "waiting":
        return Message(
            "Rollback waits for a person at step ",
            Strong(last.failed_step or "?"),
            ": it was running when rollbot stopped and is not safe to run twice. "
            "Re-run it, skip it or abort the rollback.",
        )
    if last.state == "failed":
        return Message(
            f"ROLLBACK FAILED at step {last.failed_step!r} (rolled back ",
            how,
            "): the rollback is half done. Run ",
            Code("/rollback"),
            " again or finish it by hand.",
        )
    return Message("Rolled back ", how, ": ", last.reason)
