"""Watching metrics: evaluate every active rollout's triggers and criteria, fire rollbacks.

The scheduler calls `MetricsWatcher.evaluate()` every `metrics.evaluation_seconds`. Queries
run outside any lock (they are network calls); their results are then counted under the
rollout's row lock, once per evaluation slot (`MetricsWatcher.slot`): every replica's
scheduler fires at the same instants, so two replicas evaluating the same instant count once.
Triggers stay armed in every active state, paused and held-by-a-gate included.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from sqlmodel import Session

from bot.domain.actions import Action, Emphasis
from bot.domain.errors import DatabaseUnavailable
from bot.domain.message import Message, Strong
from bot.domain.plan import Plan
from bot.domain.rollback import FiredTrigger
from bot.domain.rollout import ACTIVE_STATES, RolloutSnapshot, RolloutState
from bot.domain.runbook import FULL
from bot.domain.triggers import (
    Condition,
    Criterion,
    Streak,
    Trigger,
    Verdict,
    criterion_hold_reason,
    decisive,
    fires,
    judge_criterion,
    judge_trigger,
    observe,
)
from bot.providers.metrics.base import MetricsProviderError
from bot.providers.metrics.sources import MetricSources
from bot.services.events import Said
from bot.services.rollback.events import (
    BaselineNote,
    BaselineReading,
    CriterionHolds,
    MetricsUnreachableWait,
    RollbackWait,
)
from bot.services.rollback.report import RollbackReport
from bot.services.rollback.service import RollbackService
from bot.services.rollouts.holds import HoldQuery
from bot.services.rollouts.views import Button, RolloutView, plan_of
from bot.services.telemetry import NullTelemetry, Telemetry
from bot.store import rollbacks, rollouts
from bot.store.models import RolloutRow
from bot.store.rollback_models import BASELINE, METRIC, TRIGGER_STEP, ConditionRow

log = logging.getLogger(__name__)

TRIGGER, CRITERION = "trigger", "criterion"
C = TypeVar("C", bound=Condition)
RECENT_VALUES = 10


@dataclass(frozen=True)
class Measurement:
    """One query's answer: a value, or no data, and the error when the query failed."""

    value: float | None
    error: str | None = None
    label: str | None = None  # which labelled value decided (`per:` conditions)


class MetricsWatcher:
    """Evaluates triggers and criteria; fires automatic rollbacks."""

    def __init__(
        self,
        rollback: RollbackService,
        metrics: MetricSources,
        interval: timedelta = timedelta(seconds=15),
        monitored: Callable[[str], bool] | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.rollback = rollback
        # Whether a flag's metrics are watched (its document's `monitoring_enabled`): a flag
        # that says no has its triggers left unevaluated.
        self.monitored = monitored or (lambda _flag_key: True)
        self.telemetry: Telemetry = telemetry or NullTelemetry()
        self.rollouts = rollback.rollouts
        self.db = rollback.db
        self.clock = rollback.clock
        self.metrics = metrics
        self.interval = interval
        self._reported: set[str] = set()

    def slot(self, at: datetime) -> int:
        """Which evaluation interval `at` falls in. The scheduler fires every replica's
        evaluation at the same instants (multiples of the interval since the epoch, see
        bot/scheduler.py), each in the middle of its slot: every replica's evaluation of
        one instant counts once, however late it runs, up to half an interval."""
        seconds = self.interval.total_seconds() or 1.0
        return round(at.timestamp() / seconds)

    @property
    def enabled(self) -> bool:
        """False when no metrics provider is configured (nothing can be measured)."""
        return self.metrics.enabled

    def armed(self, conditions: list[C]) -> list[C]:
        """The conditions whose provider is configured (the others are not evaluated)."""
        return [c for c in conditions if self.metrics.configured(c.source)]

    def evaluate(self) -> list[RollbackReport]:
        """One evaluation of every active rollout; return the rollbacks it ran."""
        if not self.enabled:
            return []
        with self.db.read() as s:
            rows = list(rollouts.active(s))
        active = [
            (r.id, plan_of(r), r.step_index, r.state, r.started_at)
            for r in rows
            if self.monitored(r.flag_key)
        ]
        # Evaluate every rollout first, then run the rollbacks: a long runbook must not delay
        # the evaluation (and the flag-off step) of another rollout that fired at the same time.
        to_roll_back: list[tuple[int, list[FiredTrigger]]] = []
        for rollout_id, plan, index, state, started_at in active:
            assert rollout_id is not None
            try:
                self._measure_baselines(rollout_id, plan, index, started_at)
                fired = self._evaluate_one(rollout_id, plan, index, state)
            except DatabaseUnavailable:
                raise  # the tick says so once; the next evaluation counts again
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
        """The condition's value: its query's (the worst labelled value for `per:`), or for
        a variant comparison the variant's minus the baseline's (no data when either has
        none). A timeout or an unreachable database is no data: the missing_data policy
        rules."""
        try:
            if condition.compare is not None:
                variant, baseline = (
                    self.metrics.ask(condition.source, query) for query in condition.queries()
                )
                if variant is None or baseline is None:
                    return Measurement(None)
                return Measurement(variant - baseline)
            if condition.per is None:
                return Measurement(self.metrics.ask(condition.source, condition.query))
            values = self.metrics.ask_labelled(condition.source, condition.query, condition.per)
            label, value = decisive(condition, values, trigger=isinstance(condition, Trigger))
            return Measurement(value, label=label)
        except MetricsProviderError as exc:
            return Measurement(None, str(exc)[:300])

    def relative(self, plan: Plan, index: int) -> list[Criterion]:
        """What needs a baseline now: the relative criteria of step `index` and the plan's
        relative success metrics whose provider is configured."""
        return self.armed(plan.relative_criteria(index))

    def _measure_baselines(
        self, rollout_id: int, plan: Plan, index: int, started_at: datetime
    ) -> None:
        """Measure, once per rollout, the baseline of every relative criterion it needs now,
        for the window that ended when the rollout started (a restart, or another replica,
        finds it stored; a measurement that failed is tried again next evaluation); and the
        value now of each relative success metric (criteria are measured with the step)."""
        wanted = self.relative(plan, index)
        if not wanted:
            return
        with self.db.read() as s:
            stored = {c.name: rollbacks.baseline(s, rollout_id, c.name) for c in wanted}
        found: dict[tuple[str, str], Measurement] = {}
        for criterion in wanted:
            if _remeasure(stored[criterion.name]):
                found[(BASELINE, criterion.name)] = self._measure_baseline(criterion, started_at)
        step_criteria = {c.name for c in plan.criteria_for(index)}
        for metric in wanted:
            if metric.name not in step_criteria:
                found[(METRIC, metric.name)] = self._measure(metric)
        now = self.clock.now()
        with self.db.session() as s:
            for (kind, name), m in found.items():
                if kind == BASELINE:
                    row = rollbacks.baseline(s, rollout_id, name)
                    if row is not None and row.error is None:
                        continue  # another replica measured it meanwhile
                    if m.error is None:
                        log.info("baseline of %s for rollout %s: %s", name, rollout_id, m.value)
                rollbacks.record_value(s, rollout_id, kind, name, m.value, m.error, now)

    def _measure_baseline(self, criterion: Criterion, started_at: datetime) -> Measurement:
        """The criterion's baseline query, as of the rollout's start."""
        assert criterion.baseline is not None
        try:
            value = self.metrics.ask_at(
                criterion.source, criterion.baseline_query(), started_at, criterion.baseline.length
            )
        except MetricsProviderError as exc:
            return Measurement(None, str(exc)[:300])
        return Measurement(value)

    def _evaluate_one(
        self, rollout_id: int, plan: Plan, index: int, state: str
    ) -> list[FiredTrigger]:
        triggers = self.armed(plan.triggers_for(index))
        criteria = (
            self.armed(plan.criteria_for(index)) if state == RolloutState.RUNNING.value else []
        )
        measured = {("t", t.name): self._measure(t) for t in triggers}
        measured.update({("c", c.name): self._measure(c) for c in criteria})
        now = self.clock.now()
        fired: list[FiredTrigger] = []
        with self.db.session() as s:
            # Wait for the row (never skip it): whoever holds it (another replica's
            # evaluation of this slot, a tick advancing the step) holds it for a moment, and
            # skipping would lose this slot's observation; the slot check counts it once.
            row = rollouts.claim(s, rollout_id, skip_locked=False)
            if row is None or RolloutState(row.state) not in ACTIVE_STATES:
                return []  # it ended meanwhile
            if row.step_index != index:
                return []  # moved on while we measured: the next evaluation sees its step
            breached: list[tuple[Trigger, ConditionRow]] = []
            for trigger in triggers:
                cond = self._count(s, rollout_id, TRIGGER, trigger, TRIGGER_STEP, measured, now)
                if cond is not None and fires(trigger, _streak(cond)):
                    breached.append((trigger, cond))
            for trigger, cond in _acted_on(plan, breached):
                cond.fired_at = cond.fired_at or now
                s.add(cond)
                values = cond.recent[-cond.bad :] if cond.bad else []
                fired.append(FiredTrigger.of(trigger, values, now))
            known = rollbacks.baselines(s, rollout_id) if criteria else {}
            for criterion in criteria:
                self._count(
                    s,
                    rollout_id,
                    CRITERION,
                    criterion,
                    index,
                    measured,
                    now,
                    known.get(criterion.name),
                )
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
        baseline: float | None = None,
    ) -> ConditionRow | None:
        """Count one observation; None when it was already counted this interval
        (`baseline`: a relative criterion's stored baseline)."""
        row = rollbacks.condition(s, rollout_id, kind, condition.name, step_index)
        if row is None:
            row = rollbacks.new_condition(s, rollout_id, kind, condition.name, step_index)
        elif row.evaluated_at is not None and self.slot(row.evaluated_at) == self.slot(now):
            return None  # another replica counted this interval's observation already
        m = measured[("t" if kind == TRIGGER else "c", condition.name)]
        if isinstance(condition, Trigger):
            verdict = judge_trigger(condition, m.value)
        else:
            assert isinstance(condition, Criterion)
            verdict = judge_criterion(condition, m.value, baseline)
        streak = observe(_streak(row), verdict)
        if verdict is Verdict.GOOD and kind == TRIGGER:
            row.fired_at = None  # healthy again: a new streak may fire
        if kind == TRIGGER:
            self.telemetry.trigger_evaluated(condition.name, verdict.value)
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


def _acted_on(
    plan: Plan, breached: list[tuple[Trigger, ConditionRow]]
) -> list[tuple[Trigger, ConditionRow]]:
    """The fired triggers this evaluation acts on.

    Full-rollback triggers have no "already fired" guard: the rollback's claim under the
    rollout lock makes it run once (the rollout ends rolled back), and a claim that failed
    must be tried again. A partial runbook leaves the rollout active, so its trigger acts once
    per breaching streak (`fired_at` is cleared when it is healthy again); and one partial
    runbook runs per evaluation: the next one's triggers, still breaching, act next time."""
    full = [(t, c) for t, c in breached if not plan.runbook_partial(t.runbook or FULL)]
    if full:
        return full
    fresh = [(t, c) for t, c in breached if c.fired_at is None]
    if not fresh:
        return []
    first = fresh[0][0].runbook
    return [(t, c) for t, c in fresh if t.runbook == first]


def _remeasure(row: ConditionRow | None) -> bool:
    """True when a baseline was never measured, or its measurement failed."""
    return row is None or row.error is not None


def _streak(row: ConditionRow) -> Streak:
    return Streak(row.bad, row.good, Verdict(row.last) if row.last else None)


class CriteriaHold:
    """An `AdvanceHold` for automatic advances only: the step's success criteria must have
    held over their window, and no trigger with `missing_data: hold` may lack data."""

    def __init__(self, watcher: MetricsWatcher) -> None:
        self.watcher = watcher

    def hold(self, query: HoldQuery) -> Message | None:
        """Why the step may not advance by itself yet, or None."""
        if not query.automatic or not self.watcher.enabled:
            return None
        session, row, plan, snapshot = query.session, query.row, query.plan, query.snapshot
        at = query.at
        assert row.id is not None
        stale = at - 3 * self.watcher.interval
        for trigger in self.watcher.armed(plan.triggers_for(snapshot.step_index)):
            cond = rollbacks.condition(session, row.id, TRIGGER, trigger.name, TRIGGER_STEP)
            if cond is not None and cond.last == Verdict.HOLD.value:
                why = f" ({cond.error})" if cond.error else ""
                return Message(
                    "trigger ",
                    Strong(trigger.name),
                    f" has no data{why} and its missing_data policy is hold",
                )
        for criterion in self.watcher.armed(plan.criteria_for(snapshot.step_index)):
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
            base = rollbacks.baseline(session, row.id, criterion.name)
            value = base.value if base is not None and base.error is None else None
            reason = criterion_hold_reason(criterion, reading, value)
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
        rolled_back = [r.id for r in rows if r.state == RolloutState.ROLLED_BACK.value]
        rollbacks.preload_latest_rollbacks(s, [i for i in rolled_back if i is not None])

    def __call__(
        self, s: Session, row: RolloutRow, view: RolloutView, now: datetime
    ) -> RolloutView:
        """The view, its "waiting for" line replaced when metrics or a rollback explain it."""
        note = self.note(s, row, view, now)
        view = replace(view, waiting_for=note) if note else view
        against = self.baseline_note(s, row, view)
        if against is not None:
            view = replace(view, notes=(*view.notes, against))
        if row.state == RolloutState.ROLLED_BACK.value and row.id is not None:
            last = rollbacks.latest_rollback(s, row.id)
            if last is not None and last.state == "waiting" and last.id is not None:
                value = json.dumps({"rollback": last.id})
                step = last.failed_step or "the step"
                view = replace(
                    view,
                    buttons=[
                        Button(f"Re-run “{step}”", Action.RERUN_STEP, value, Emphasis.CONFIRM),
                        Button(f"Skip “{step}”", Action.SKIP_STEP, value),
                        Button(
                            "Abort the rollback", Action.ABORT_ROLLBACK, value, Emphasis.DESTRUCTIVE
                        ),
                    ],
                )
        return view

    def baseline_note(self, s: Session, row: RolloutRow, view: RolloutView) -> BaselineNote | None:
        """Baseline, now and the change of each relative criterion and success metric of
        the rollout's step, while it is active."""
        if not self.hold.watcher.enabled or RolloutState(row.state) not in ACTIVE_STATES:
            return None
        assert row.id is not None
        relative = self.hold.watcher.relative(view.plan or plan_of(row), row.step_index)
        if not relative:
            return None
        baselines = rollbacks.baselines(s, row.id)
        nows = rollbacks.latest_values(s, row.id)
        errors = rollbacks.baseline_errors(s, row.id)
        return BaselineNote(
            tuple(
                BaselineReading(
                    c.name,
                    baselines.get(c.name),
                    nows.get(c.name),
                    c.unit,
                    c.change or "",
                    errors.get(c.name),
                )
                for c in relative
                if c.relative
            )
        )

    def _unreachable(self, s: Session, row: RolloutRow) -> str | None:
        if not self.hold.watcher.enabled:
            return None
        return _unreachable_error(s, row)

    def note(self, s: Session, row: RolloutRow, view: RolloutView, now: datetime) -> Said | None:
        """A criterion holding a due step, or the state of the rollback."""
        assert row.id is not None
        if row.state == RolloutState.ROLLED_BACK.value:
            return _rollback_note(s, row.id)
        unreachable = self._unreachable(s, row)
        if unreachable is not None and row.state == RolloutState.RUNNING.value:
            # A countdown to an advance that cannot happen would mislead: say why it waits.
            return MetricsUnreachableWait(unreachable)
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
            reason = self.hold.hold(HoldQuery(s, row, plan, snap, now, automatic=True))
            if reason is not None:
                return CriterionHolds(reason)
        return None


def _unreachable_error(s: Session, row: RolloutRow) -> str | None:
    """The error of the latest evaluation when every query of it failed (else None)."""
    assert row.id is not None
    latest = rollbacks.latest_evaluation(s, row.id, row.step_index)
    if not latest or not all(c.error for c in latest):
        return None  # nothing measured yet, or some queries answer
    return latest[-1].error


def _rollback_note(s: Session, rollout_id: int) -> RollbackWait | None:
    last = rollbacks.latest_rollback(s, rollout_id)
    if last is None:
        return None
    return RollbackWait(
        last.state, last.automatic, last.actor, last.reason, len(last.steps), last.failed_step
    )
