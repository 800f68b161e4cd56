"""The draft retrospective of a rollout (`/rollout retro <flag>`), for the plan's "Document
lessons learned" task: written from what rollbot recorded — phases and how long each took,
sign-offs, holds and pauses, triggers that fired and rollbacks, incidents, the
post-migration tasks — with the questions people answer left as TODOs, like the post-mortem.

Rendered from templates/retrospective.md.j2 so teams can change the wording without code;
people are written by name (the chat's name for them), not by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.clock import Clock
from bot.domain.checklist import ItemStatus
from bot.domain.durations import format_duration
from bot.domain.plan import Plan
from bot.services.documents import document_date, markdown_templates
from bot.services.people import People
from bot.services.rollouts.reading import no_rollout
from bot.services.rollouts.views import plan_of
from bot.services.signoff.checklists import ChecklistService
from bot.store import audit, incidents, rollouts
from bot.store.database import Database
from bot.store.models import AuditRow, RolloutRow

TEMPLATE = "retrospective.md.j2"

_CHANGES = {
    "rollout.started": "started",
    "rollout.advanced": "advanced",
    "rollout.percentage_set": "set by hand",
    "rollout.paused": "paused",
    "rollout.resumed": "resumed",
}


@dataclass(frozen=True)
class PhaseSpan:
    """How long the rollout spent in one phase of its plan."""

    name: str
    entered: str
    duration: str


class RetrospectiveService:
    """Writes the draft retrospective of a rollout."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        checklists: ChecklistService,
        people: People,
        templates: Path,
    ) -> None:
        self.db = db
        self.clock = clock
        self.checklists = checklists
        self.people = people
        self.env = markdown_templates(templates)

    def render(self, flag_key: str) -> str:
        """The Markdown draft for the flag's latest rollout."""
        name = self.people.namer()
        now = self.clock.now()
        with self.db.read() as s:
            row = rollouts.latest_for_flag(s, flag_key)
            if row is None:
                raise no_rollout(flag_key)
            assert row.id is not None
            plan = plan_of(row)
            events = audit.events_between(s, flag_key, row.started_at, row.finished_at)
            linked = incidents.of_rollout(s, row.id)
            states = self.checklists.states(s, row, plan)
        end = row.finished_at or now
        tasks = [st for st in states if st.item.due is not None]

        def entry(event: AuditRow) -> dict[str, Any]:
            """A sign-off or rollback event: when, who, what ("approved", "started"), detail."""
            return {
                "at": document_date(event.at),
                "who": name(event.actor),
                "what": event.action.split(".", 1)[1].replace("_", " "),
                "detail": event.detail or "",
            }

        context: dict[str, Any] = {
            "title": plan.title,
            "flag": row.flag_key,
            "rollout_id": row.id,
            "plan_name": plan.name,
            "state": row.state.replace("_", " "),
            "percentage": row.percentage,
            "started_by": name(row.started_by),
            "started_at": document_date(row.started_at),
            "finished_at": document_date(row.finished_at),
            "duration": format_duration(end - row.started_at),
            "generated_at": document_date(now),
            "phases": self._phases(plan, row, events, end),
            "changes": [
                {
                    "at": document_date(e.at),
                    "what": _CHANGES[e.action],
                    "who": name(e.actor),
                    "percentage": (e.after or {}).get("percentage"),
                }
                for e in events
                if e.action in _CHANGES
            ],
            "signoffs": [
                entry(e)
                for e in events
                if e.action.startswith("signoff.")
                and e.action.split(".", 1)[1] in ("approved", "rejected", "timed_out")
            ],
            "holds": [
                {"at": document_date(e.at), "who": name(e.actor), "detail": e.detail or ""}
                for e in events
                if e.action in ("rollout.paused", "signoff.timed_out")
            ],
            "rollbacks": [
                entry(e)
                for e in events
                if e.action in ("rollback.started", "rollback.succeeded", "rollback.failed")
            ],
            "incidents": [
                {
                    "key": i.key,
                    "title": i.title,
                    "severity": i.severity.upper(),
                    "declared": document_date(i.declared_at),
                    "resolved": document_date(i.resolved_at) or "not yet",
                }
                for i in linked
            ],
            "tasks": [
                {
                    "text": st.item.text,
                    "owner": st.item.owner,
                    "done": st.status is ItemStatus.DONE,
                    "due": document_date(st.item.due_at(row.finished_at)) or f"{st.item.due} after",
                }
                for st in tasks
            ],
        }
        return self.env.get_template(TEMPLATE).render(**context)

    def _phases(
        self, plan: Plan, row: RolloutRow, events: list[AuditRow], end: datetime
    ) -> list[PhaseSpan]:
        """When the rollout entered each phase it reached, and how long it stayed."""
        steps = plan.steps()
        entered: list[tuple[str, datetime]] = [(steps[0].phase.name, row.started_at)]
        for e in events:
            step = (e.after or {}).get("step")
            if e.action not in _CHANGES or not isinstance(step, int) or not 0 <= step < len(steps):
                continue
            phase = steps[step].phase.name
            if phase != entered[-1][0]:
                entered.append((phase, e.at))
        spans = []
        for i, (phase, at) in enumerate(entered):
            until = entered[i + 1][1] if i + 1 < len(entered) else end
            spans.append(PhaseSpan(phase, document_date(at), format_duration(until - at)))
        return spans
