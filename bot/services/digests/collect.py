"""Collecting a digest: every section read from the store in a fixed number of statements
(bot/store/digests.py batches them), then judged with the domain's own rules — the same
`chain_hold`, `checklist_hold` and `criterion_hold_reason` the rollout card's holds use —
and the plan's success metrics measured once per distinct query."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.domain.checklist import ItemState, checklist_hold, open_tasks
from bot.domain.message import Message
from bot.domain.plan import Plan
from bot.domain.rollout import RolloutState
from bot.domain.signoff import Chain, Gate, Rejection, Signature, chain_hold
from bot.domain.triggers import (
    Criterion,
    Trigger,
    criterion_hold_reason,
    format_value,
    relative_change,
)
from bot.providers.metrics.base import MetricsProviderError
from bot.services.digests.context import DigestContext
from bot.services.digests.digest import (
    Digest,
    IncidentEntry,
    OverdueItem,
    PostmortemDue,
    RolloutEntry,
    Score,
    ScoreVerdict,
    SignoffWaiting,
    TriggerValue,
)
from bot.services.rollback.watch import CRITERION, TRIGGER
from bot.services.rollouts.views import build_view
from bot.services.signoff.checklists import item_states
from bot.store import digests as store
from bot.store import rollbacks
from bot.store.digests import OpenIncident
from bot.store.models import RolloutRow
from bot.store.rollback_models import BASELINE, TRIGGER_STEP, ConditionRow
from bot.store.signoff_models import ChecklistResultRow, SignatureRow, SignoffRequestRow

log = logging.getLogger(__name__)

POSTMORTEM_HORIZON = timedelta(hours=24)


class DigestCollector:
    """Builds the `Digest` of this moment."""

    def __init__(self, ctx: DigestContext) -> None:
        self.ctx = ctx

    def collect(
        self,
        name: str,
        timezone: str = "UTC",
        slot_at: datetime | None = None,
        late: bool = False,
    ) -> Digest:
        """The digest `name` as of now (`slot_at`/`late`: the slot it is posted for)."""
        now = self.ctx.clock.now()
        with self.ctx.db.read() as s:
            rows = store.digest_rows(s, now - self.ctx.completed_window, now + POSTMORTEM_HORIZON)
        plans = _Plans()
        conditions = _by_rollout(rows.conditions)
        signatures = _by_rollout(rows.signatures)
        results = _by_rollout(rows.results)
        scorer = _Scorer(self.ctx)
        entries = tuple(
            self._rollout(row, plans.of(row), now, conditions, signatures, results, scorer)
            for row in rows.active
        )
        by_id = {r.id: r for r in rows.active}
        signoffs = []
        for request in rows.requests:
            row = by_id.get(request.rollout_id)
            if row is None or request.step_index != row.step_index:
                continue
            if request.entered_at != row.step_started_at:
                continue  # a request of an earlier visit of the step
            if request.role_id in _signed_roles(signatures.get(request.rollout_id, []), row):
                continue
            signoffs.append(self._signoff(request, row, plans.of(row), now))
        return Digest(
            name=name,
            at=now,
            timezone=timezone,
            slot_at=slot_at,
            late=late,
            rollouts=entries,
            signoffs=tuple(signoffs),
            incidents=tuple(self._incident(i, now) for i in rows.incidents),
            postmortems=tuple(
                PostmortemDue(p.incident_key, p.title, p.due_at, p.due_at <= now, p.channel_id)
                for p in rows.postmortems
            ),
            overdue_items=tuple(self._overdue(rows.active + rows.completed, plans, results, now)),
        )

    # -- rollouts ------------------------------------------------------------------------

    def _rollout(
        self,
        row: RolloutRow,
        plan: Plan,
        now: datetime,
        conditions: dict[int, list[ConditionRow]],
        signatures: dict[int, list[SignatureRow]],
        results: dict[int, list[ChecklistResultRow]],
        scorer: _Scorer,
    ) -> RolloutEntry:
        assert row.id is not None
        view = build_view(row, now, plan)
        mine = conditions.get(row.id, [])
        holds: list[Message] = []
        if row.state in (RolloutState.RUNNING.value, RolloutState.PAUSED.value):
            holds = self._holds(
                row, plan, mine, signatures.get(row.id, []), results.get(row.id, [])
            )
        triggers = tuple(self._trigger_value(t, mine) for t in plan.triggers_for(row.step_index))
        return RolloutEntry(
            id=row.id,
            flag_key=row.flag_key,
            plan_title=plan.title,
            state=row.state.replace("_", " "),
            phase_name=view.phase_name,
            percentage=view.percentage,
            step_number=view.step_number,
            step_count=view.step_count,
            step_name=view.step_name,
            next_step=view.next_step,
            next_percentage=view.next_percentage,
            due_at=view.due_at,
            auto_advance=view.auto_advance,
            waiting_for=view.waiting_for,
            holds=tuple(holds),
            triggers=triggers,
            scorecard=tuple(scorer.score(m, _baselines(mine)) for m in plan.success_metrics),
        )

    def _holds(
        self,
        row: RolloutRow,
        plan: Plan,
        conditions: list[ConditionRow],
        signatures: list[SignatureRow],
        results: list[ChecklistResultRow],
    ) -> list[Message]:
        """What holds the rollout at its step: the gate's chain, its checklists, and the
        step's success criteria (when metrics are measured)."""
        holds: list[Message] = []
        gate = _gate_of(plan, row.step_index)
        if gate is not None:
            held = chain_hold(_chain(gate, signatures, row), self.ctx.roles)
            if held:
                holds.append(held)
            required = [c for c in plan.checklists if c.id in gate.checklists]
            if required:
                checked = checklist_hold(required, _states(plan, results))
                if checked:
                    holds.append(checked)
        if self.ctx.metrics_enabled:
            for criterion in plan.criteria_for(row.step_index):
                found = _condition(conditions, CRITERION, criterion.name, row.step_index)
                reason = criterion_hold_reason(
                    criterion, rollbacks.reading(found), _baselines(conditions).get(criterion.name)
                )
                if reason:
                    holds.append(reason)
        return holds

    def _trigger_value(self, trigger: Trigger, conditions: list[ConditionRow]) -> TriggerValue:
        """The trigger's latest stored evaluation (the rollback watcher's) against its
        threshold."""
        found = _condition(conditions, TRIGGER, trigger.name, TRIGGER_STEP)
        rule = trigger.rule()
        if found is None or found.evaluated_at is None:
            return TriggerValue(trigger.name, rule, "not measured yet", False, None)
        value = found.value
        breaching = value is not None and value == value and trigger.compares_true(value)
        return TriggerValue(
            trigger.name,
            rule,
            format_value(value, trigger.unit),
            breaching,
            found.evaluated_at,
            found.error,
        )

    # -- sign-offs, incidents, overdue items ---------------------------------------------

    def _signoff(
        self, request: SignoffRequestRow, row: RolloutRow, plan: Plan, now: datetime
    ) -> SignoffWaiting:
        gate = next((g for g in plan.gates if g.id == request.gate_id), None)
        role = self.ctx.roles.role(request.role_id)
        since = request.asked_at or request.created_at
        return SignoffWaiting(
            flag_key=row.flag_key,
            gate_title=gate.title if gate else request.gate_id,
            role_name=role.name if role else request.role_id,
            holders=role.members if role else (),
            usergroup=role.usergroup if role else None,
            waiting=now - since,
            reminders_sent=request.reminders_sent,
            escalated=request.escalated_at is not None,
        )

    def _incident(self, row: OpenIncident, now: datetime) -> IncidentEntry:
        due = self.ctx.deadlines.status_due(row.declared_at)
        return IncidentEntry(
            key=row.key,
            title=row.title,
            severity=row.severity,
            status=row.status,
            age=now - row.declared_at,
            commander=row.commander,
            channel_id=row.channel_id,
            since_update=(now - row.last_update_at) if row.last_update_at else None,
            first_update_late=row.last_update_at is None and now > due,
            first_update_due=due,
        )

    def _overdue(
        self,
        rows: Iterable[RolloutRow],
        plans: _Plans,
        results: dict[int, list[ChecklistResultRow]],
        now: datetime,
    ) -> list[OverdueItem]:
        """Checklist items with a due date that passed and are not done (post-migration
        tasks are due counting from full production: a completed rollout's finish)."""
        out: list[OverdueItem] = []
        for row in rows:
            assert row.id is not None
            production = row.finished_at if row.state == RolloutState.COMPLETED.value else None
            if production is None:
                continue
            for task in open_tasks(_states(plans.of(row), results.get(row.id, [])), production):
                if not task.overdue(now):
                    break  # soonest first: the rest are not due yet either
                item = task.state.item
                role = self.ctx.roles.role(item.owner)
                out.append(
                    OverdueItem(
                        row.flag_key,
                        task.state.checklist.title,
                        item.text,
                        role.name if role else item.owner,
                        task.due_at,
                    )
                )
        return out


class _Scorer:
    """Measures success metrics, each distinct query once per digest: every rollout of a
    plan shares its queries, and a provider that fails is not asked again (it is down,
    and each query would wait for its timeout)."""

    def __init__(self, ctx: DigestContext) -> None:
        self.ctx = ctx
        self.values: dict[tuple[str, str], tuple[float | None, str | None]] = {}
        # Providers (by what they are) that failed this digest: not asked again.
        self.down: dict[str, str] = {}
        self.none = None if ctx.metrics_enabled else "no metrics provider configured"

    def measure(self, metric: Criterion) -> tuple[float | None, str | None]:
        """The value of the metric's query from its provider, or None and why there is none."""
        source = metric.source
        where, query = source.describe(), metric.query
        if (where, query) in self.values:
            return self.values[(where, query)]
        if self.none is not None:
            return None, self.none
        if where in self.down:
            return None, self.down[where]
        found = self._ask(metric)
        self.values[(where, query)] = found
        return found

    def _ask(self, metric: Criterion) -> tuple[float | None, str | None]:
        where = metric.source.describe()
        try:
            value = self.ctx.metrics.ask(metric.source, metric.query)
            found: tuple[float | None, str | None] = (
                (value, None) if value is not None else (None, "the query answered no data")
            )
        except MetricsProviderError as exc:
            self.down[where] = f"metrics provider unreachable: {exc}"[:200]
            found = (None, self.down[where])
        except Exception as exc:  # any failure of the provider: the digest goes on
            log.warning("success metric query failed: %s", type(exc).__name__)
            self.down[where] = f"metrics provider failed: {type(exc).__name__}"
            found = (None, self.down[where])
        return found

    def score(self, metric: Criterion, baselines: dict[str, float | None]) -> Score:
        """One metric: met, missed, or no data (with why). A relative metric is compared
        with the rollout's stored baseline (`baselines`, by name)."""
        value, why = self.measure(metric)
        description = metric.description or metric.name
        if value is None or value != value:  # NaN is no data too
            return Score(
                metric.name, description, metric.rule(), "no data", ScoreVerdict.NO_DATA, why
            )
        if metric.relative:
            baseline = baselines.get(metric.name)
            shown = metric.compared(value, baseline)
            change = relative_change(value, baseline)
            if change is None:
                why = "no baseline measured before the start" if baseline is None else None
                return Score(
                    metric.name,
                    description,
                    metric.rule(),
                    shown,
                    ScoreVerdict.NO_DATA,
                    why or "the baseline is 0: no relative change",
                )
            verdict = ScoreVerdict.MET if metric.compares_true(change) else ScoreVerdict.MISSED
            return Score(metric.name, description, metric.rule(), shown, verdict)
        verdict = ScoreVerdict.MET if metric.compares_true(value) else ScoreVerdict.MISSED
        return Score(
            metric.name, description, metric.rule(), format_value(value, metric.unit), verdict
        )


class _Plans:
    """Plans as kept with each rollout, parsed once per distinct plan (rollouts of one plan
    keep equal copies of it; a plan edited between rollouts is another variant)."""

    def __init__(self) -> None:
        self.cache: dict[str, list[tuple[dict[str, Any], Plan]]] = {}

    def of(self, row: RolloutRow) -> Plan:
        variants = self.cache.setdefault(row.plan_name, [])
        for raw, plan in variants:
            if raw == row.plan:
                return plan
        plan = Plan.model_validate(row.plan)
        variants.append((row.plan, plan))
        return plan


_Row = TypeVar("_Row", ConditionRow, SignatureRow, ChecklistResultRow)


def _baselines(conditions: list[ConditionRow]) -> dict[str, float | None]:
    """Name -> the stored baseline value of a rollout's relative metrics."""
    return {
        c.name: c.value
        for c in conditions
        if c.kind == BASELINE and c.evaluated_at is not None and c.error is None
    }


def _by_rollout(rows: Iterable[_Row]) -> dict[int, list[_Row]]:
    out: dict[int, list[_Row]] = defaultdict(list)
    for r in rows:
        out[r.rollout_id].append(r)
    return out


def _gate_of(plan: Plan, step_index: int) -> Gate | None:
    gate_id = plan.step(step_index).step.gate
    return next((g for g in plan.gates if g.id == gate_id), None) if gate_id else None


def _visit(rows: list[SignatureRow], row: RolloutRow) -> list[SignatureRow]:
    return [
        r for r in rows if r.step_index == row.step_index and r.entered_at == row.step_started_at
    ]


def _signed_roles(rows: list[SignatureRow], row: RolloutRow) -> set[str]:
    return {r.role_id for r in _visit(rows, row) if r.decision == "approved"}


def _chain(gate: Gate, rows: list[SignatureRow], row: RolloutRow) -> Chain:
    """The gate's chain for the rollout's current visit of its step (as the sign-off
    service reads it)."""
    visit = _visit(rows, row)
    signed = {
        r.role_id: Signature(r.role_id, r.user_id, r.at) for r in visit if r.decision == "approved"
    }
    rejected = tuple(
        Rejection(r.role_id, r.user_id, r.at, r.reason or "")
        for r in visit
        if r.decision == "rejected"
    )
    return Chain(gate, signed, rejected)


def _states(plan: Plan, results: list[ChecklistResultRow]) -> list[ItemState]:
    """Every checklist item of the plan with its stored result (as the checklist service
    reads them)."""
    return item_states(plan, {(r.checklist_id, r.item_index): r for r in results})


def _condition(
    conditions: list[ConditionRow], kind: str, name: str, step_index: int
) -> ConditionRow | None:
    return next(
        (c for c in conditions if c.kind == kind and c.name == name and c.step_index == step_index),
        None,
    )
