"""The live dashboard's data: rollouts, their history and triggers, sign-offs waiting,
open incidents with their latest timeline and status-page state.

A read model: it changes nothing, and it reads everything in a fixed number of queries
(eight at most) however many rollouts and incidents there are, each a batch query of the
store (bot/store). The web adapter (bot/web/dashboard.py) renders it as HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import Clock
from bot.domain.incident import Deadlines, TimelineEvent
from bot.domain.message import Message
from bot.domain.roles import RoleDirectory
from bot.domain.rollout import ACTIVE_STATES, RolloutState
from bot.domain.triggers import Trigger
from bot.services.incidents.views import IncidentView, build_incident_view
from bot.services.rollouts.views import RolloutView, build_view, plan_of
from bot.store import audit, incidents, rollbacks, rollouts, signoffs
from bot.store.database import Database
from bot.store.incident_models import IncidentRow, IncidentStatusUpdateRow
from bot.store.models import AuditRow, RolloutRow
from bot.store.rollback_models import ConditionRow, RollbackRow
from bot.store.signoff_models import SignoffRequestRow

# How each recorded change reads in a rollout's history.
CHANGES = {
    "rollout.started": "started",
    "rollout.advanced": "advanced",
    "rollout.percentage_set": "set by hand",
    "rollout.paused": "paused",
    "rollout.resumed": "resumed",
    "rollback.started": "rolled back",
}
MAX_INCIDENTS = 100


@dataclass(frozen=True)
class HistoryPoint:
    """One change of a rollout: when, who, what, and the percentage after it."""

    at: datetime
    change: str
    actor: str
    percentage: int


@dataclass(frozen=True)
class TriggerReading:
    """A trigger as the latest evaluation left it, against its threshold."""

    name: str
    description: str | None
    comparison: str
    threshold: float
    unit: str
    consecutive: int
    value: float | None
    # The latest verdict: bad (breached), good, skip or hold (no data); None: not measured.
    verdict: str | None
    breaches: int
    error: str | None
    evaluated_at: datetime | None

    @property
    def breaching(self) -> bool:
        """True when the latest evaluation breached the threshold."""
        return self.verdict == "bad"


@dataclass(frozen=True)
class PendingSignoff:
    """A role asked to sign a rollout's gate and not signed yet."""

    gate_id: str
    role_id: str
    role_name: str
    holders: tuple[str, ...]
    asked_at: datetime | None
    reminders_sent: int
    escalated_at: datetime | None


@dataclass(frozen=True)
class RollbackState:
    """The newest rollback of a rollout."""

    state: str
    automatic: bool
    actor: str
    reason: str
    started_at: datetime
    finished_at: datetime | None
    failed_step: str | None


@dataclass(frozen=True)
class RolloutPanel:
    """A rollout on the dashboard: its card's data (without the clock-dependent "waiting
    for" line), its percentage history, triggers, sign-offs waiting and latest rollback."""

    view: RolloutView
    finished_at: datetime | None
    history: list[HistoryPoint]
    triggers: list[TriggerReading]
    signoffs: list[PendingSignoff]
    rollback: RollbackState | None

    @property
    def active(self) -> bool:
        """True while the rollout runs or is paused."""
        return self.view.state in ACTIVE_STATES


@dataclass(frozen=True)
class StatusPageState:
    """An incident's newest public status update and where it stands."""

    state: str  # draft | queued | published | failed
    status: str
    message: str
    provider: str | None
    published_at: datetime | None
    deadline_at: datetime | None
    attempts: int
    last_error: str | None
    # Not published and its deadline has passed (the five minutes of the first update).
    late: bool


@dataclass(frozen=True)
class TimelineLine:
    """One timeline entry, as the dashboard shows it."""

    at: datetime
    kind: str
    message: Message
    actor: str


@dataclass(frozen=True)
class IncidentPanel:
    """An open incident: its card's data, its latest timeline entries and status-page state."""

    view: IncidentView
    timeline: list[TimelineLine]
    status_page: StatusPageState | None


@dataclass(frozen=True)
class DashboardView:
    """Everything the dashboard shows, as of `at`."""

    at: datetime
    active: list[RolloutPanel]
    recent: list[RolloutPanel]
    incidents: list[IncidentPanel]
    # False when no metrics provider is configured: triggers are never measured.
    metrics_watched: bool = True

    @property
    def pending_signoffs(self) -> int:
        """How many sign-offs the active rollouts wait for."""
        return sum(len(p.signoffs) for p in self.active)


class Dashboard:
    """Builds the `DashboardView` in a fixed number of queries."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        roles: RoleDirectory,
        *,
        deadlines: Deadlines,
        recent_rollouts: int = 10,
        timeline_entries: int = 5,
        metrics_watched: bool = True,
    ) -> None:
        self.db = db
        self.metrics_watched = metrics_watched
        self.clock = clock
        self.roles = roles
        self.deadlines = deadlines
        self.recent_rollouts = recent_rollouts
        self.timeline_entries = timeline_entries

    def view(self) -> DashboardView:
        """The dashboard now."""
        now = self.clock.now()
        with self.db.read() as s:
            rows = rollouts.active_and_recent(s, self.recent_rollouts)
            ids = [r.id for r in rows if r.id is not None]
            active_ids = [r.id for r in rows if r.id is not None and r.active_flag_key]
            since = min((r.started_at for r in rows), default=now)
            history = audit.rollout_history(s, sorted({r.flag_key for r in rows}), since)
            conditions = rollbacks.trigger_conditions_of(s, active_ids)
            requests = signoffs.open_requests_of(s, active_ids)
            latest_rollbacks = rollbacks.latest_rollbacks_of(s, ids)
            open_rows = incidents.open_incidents(s, MAX_INCIDENTS)
            incident_ids = [i.id for i in open_rows if i.id is not None]
            events = incidents.latest_events_of(s, incident_ids, self.timeline_entries)
            updates = incidents.latest_updates_of(s, incident_ids)
        segments = _segments(rows, history)
        panels = [
            self._panel(
                row,
                now,
                segments.get(row.id or 0, []),
                conditions.get(row.id or 0, []),
                requests.get(row.id or 0, []),
                latest_rollbacks.get(row.id or 0),
            )
            for row in rows
        ]
        return DashboardView(
            at=now,
            active=[p for p in panels if p.active],
            recent=[p for p in panels if not p.active][: self.recent_rollouts],
            incidents=[
                _incident(
                    row, events.get(row.id or 0, []), updates.get(row.id or 0), self.deadlines, now
                )
                for row in open_rows
            ],
            metrics_watched=self.metrics_watched,
        )

    def _panel(
        self,
        row: RolloutRow,
        now: datetime,
        history: list[AuditRow],
        conditions: list[ConditionRow],
        requests: list[SignoffRequestRow],
        rollback: RollbackRow | None,
    ) -> RolloutPanel:
        view = build_view(row, now)
        triggers: list[TriggerReading] = []
        if RolloutState(row.state) in ACTIVE_STATES:
            by_name = {c.name: c for c in conditions}
            plan = plan_of(row)
            triggers = [_reading(t, by_name.get(t.name)) for t in plan.triggers_for(row.step_index)]
        return RolloutPanel(
            view=view,
            finished_at=row.finished_at,
            history=[_point(a) for a in history],
            triggers=triggers,
            signoffs=[self._pending(r) for r in requests],
            rollback=_rollback(rollback) if rollback is not None else None,
        )

    def _pending(self, request: SignoffRequestRow) -> PendingSignoff:
        role = self.roles.role(request.role_id)
        return PendingSignoff(
            gate_id=request.gate_id,
            role_id=request.role_id,
            role_name=role.name if role else request.role_id,
            holders=(*role.members, *((f"@{role.usergroup}",) if role.usergroup else ()))
            if role
            else (),
            asked_at=request.asked_at,
            reminders_sent=request.reminders_sent,
            escalated_at=request.escalated_at,
        )


def _segments(
    rows: list[RolloutRow], history: dict[str, list[AuditRow]]
) -> dict[int, list[AuditRow]]:
    """Each rollout's own changes out of its flag's history.

    A flag has at most one active rollout and a new one starts only after the last ended,
    so the rollouts shown of one flag are its newest ones, and its history splits into one
    run per `rollout.started`: the last runs belong to them, newest last.
    """
    found: dict[int, list[AuditRow]] = {}
    by_flag: dict[str, list[RolloutRow]] = {}
    for row in rows:
        by_flag.setdefault(row.flag_key, []).append(row)
    for flag, flag_rows in by_flag.items():
        runs: list[list[AuditRow]] = []
        for event in history.get(flag, []):
            if event.action == "rollout.started":
                runs.append([event])
            elif runs:
                runs[-1].append(event)
        ordered = sorted(flag_rows, key=lambda r: r.id or 0)
        for row, run in zip(reversed(ordered), reversed(runs), strict=False):
            if row.id is not None:
                found[row.id] = run
    return found


def _point(event: AuditRow) -> HistoryPoint:
    after = event.after or {}
    percentage = after.get("percentage")
    # A rollback turns the flag off before anything else: 0% from then on.
    value = int(percentage) if isinstance(percentage, int) else 0
    return HistoryPoint(event.at, CHANGES.get(event.action, event.action), event.actor, value)


def _reading(trigger: Trigger, row: ConditionRow | None) -> TriggerReading:
    return TriggerReading(
        name=trigger.name,
        description=trigger.description,
        comparison=trigger.comparison,
        threshold=trigger.threshold,
        unit=trigger.unit,
        consecutive=trigger.consecutive,
        value=row.value if row else None,
        verdict=row.last if row else None,
        breaches=row.bad if row else 0,
        error=row.error if row else None,
        evaluated_at=row.evaluated_at if row else None,
    )


def _rollback(row: RollbackRow) -> RollbackState:
    return RollbackState(
        state=row.state,
        automatic=row.automatic,
        actor=row.actor,
        reason=row.reason,
        started_at=row.started_at,
        finished_at=row.finished_at,
        failed_step=row.failed_step,
    )


def _incident(
    row: IncidentRow,
    events: list[TimelineEvent],
    update: IncidentStatusUpdateRow | None,
    deadlines: Deadlines,
    now: datetime,
) -> IncidentPanel:
    page = None
    if update is not None:
        late = (
            update.state != "published"
            and update.deadline_at is not None
            and now > update.deadline_at
        )
        page = StatusPageState(
            state=update.state,
            status=update.status,
            message=update.message,
            provider=update.provider_used,
            published_at=update.published_at,
            deadline_at=update.deadline_at,
            attempts=update.attempts,
            last_error=update.last_error,
            late=late,
        )
    return IncidentPanel(
        # Open incidents have no post-mortem yet: it is written when they are resolved.
        view=build_incident_view(row, None, deadlines, now),
        timeline=[TimelineLine(e.at, e.kind.value, e.message, e.actor) for e in events],
        status_page=page,
    )
