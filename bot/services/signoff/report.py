"""The final report of a rollout (`/rollout report <flag>`): the plan document's checklists
and approval table, filled in with who checked and signed what, when; the baselines and the
A/B variant comparisons as last measured.

Rendered from templates/rollout-report.md.j2 so teams can change the wording without code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config.shipped import templates_dir
from bot.domain.checklist import ItemState, ItemStatus
from bot.domain.message import Message, person
from bot.domain.triggers import baseline_lines, comparison_lines
from bot.services.documents import document_date, markdown_templates
from bot.services.rollouts.reading import current_row
from bot.services.rollouts.views import plan_of
from bot.services.signoff.context import SignoffContext
from bot.services.signoff.tables import table_rows
from bot.store import rollbacks, signoffs

TEMPLATES = templates_dir()
TEMPLATE = "rollout-report.md.j2"


@dataclass(frozen=True)
class ApprovalLine:
    """One row of the approval table."""

    role: str
    name: str
    signature: str
    date: str


# Where a person stands in the rendered Markdown, until `_people` makes them a Mention.
# NUL cannot come from a plan file or the template, so the marker cannot be forged.
_PERSON = "\x00{}\x00"


def _people(markdown: str) -> Message:
    pieces = markdown.split("\x00")
    return Message(*(person(p) if i % 2 else p for i, p in enumerate(pieces)))


class ReportService:
    """Renders rollout reports."""

    def __init__(self, context: SignoffContext, templates: Path = TEMPLATES) -> None:
        self.context = context
        self.env = markdown_templates(templates)

    def render(self, flag_key: str) -> Message:
        """The Markdown report of the flag's active (else latest) rollout, the people in it
        marked so that each chat names them its own way."""
        return _people(self.markdown(flag_key, _PERSON.format))

    def markdown(self, flag_key: str, name: Callable[[str], str] = str) -> str:
        """The report's Markdown; `name` writes a person's user id (the id by default)."""
        with self.context.db.read() as s:
            row = current_row(s, flag_key)
            assert row.id is not None
            plan = plan_of(row)
            view = self.context.rollouts.view_of(s, row, row.updated_at)
            states = self.context.checklists.states(s, row, plan)
            table = table_rows(self.context, s, row)
            rejections = [r for r in signoffs.signatures(s, row.id) if r.decision == "rejected"]
            full_production = row.finished_at if row.state == "completed" else None
            context: dict[str, Any] = {
                "title": plan.title,
                "flag": row.flag_key,
                "rollout_id": row.id,
                "plan_name": plan.name,
                "description": plan.description,
                "started_by": name(row.started_by),
                "started_at": document_date(row.started_at),
                "finished_at": document_date(row.finished_at),
                "state": row.state.replace("_", " "),
                "percentage": row.percentage,
                "phase": view.phase_name,
                "step_number": view.step_number,
                "step_count": view.step_count,
                "sections": self._sections(states, full_production, name),
                # Baseline, latest value and change of each relative criterion and metric.
                "baselines": baseline_lines(
                    plan.relative_criteria(),
                    rollbacks.baselines(s, row.id),
                    rollbacks.latest_values(s, row.id),
                    rollbacks.baseline_errors(s, row.id),
                ),
                # Each A/B variant comparison with the latest measured difference.
                "comparisons": comparison_lines(
                    plan.variant_comparisons(), rollbacks.latest_by_kind(s, row.id)
                ),
                "approvals": [
                    ApprovalLine(role, name(user) if user else "", sig, date)
                    for role, user, sig, date in table
                ],
                "rejections": [
                    {
                        "date": document_date(r.at),
                        "name": name(r.user_id),
                        "role": self._role(r.role_id),
                        "gate": next((g.title for g in plan.gates if g.id == r.gate_id), r.gate_id),
                        "reason": r.reason or "",
                    }
                    for r in rejections
                ],
            }
        return self.env.get_template(TEMPLATE).render(**context)

    def _role(self, role_id: str) -> str:
        return self.context.role_name(role_id)

    def _sections(
        self,
        states: list[ItemState],
        full_production: datetime | None,
        name: Callable[[str], str],
    ) -> list[dict[str, Any]]:
        sections: dict[str, dict[str, Any]] = {}
        for state in states:
            section = sections.setdefault(
                state.checklist.section, {"title": state.checklist.section, "checklists": {}}
            )
            checklist = section["checklists"].setdefault(
                state.checklist.id, {"title": state.checklist.title, "entries": []}
            )
            checklist["entries"].append(
                {
                    "text": state.item.text,
                    "done": state.done,
                    "note": self._note(state, full_production, name),
                }
            )
        return [
            {"title": s["title"], "checklists": list(s["checklists"].values())}
            for s in sections.values()
        ]

    def _note(
        self, state: ItemState, full_production: datetime | None, name: Callable[[str], str]
    ) -> str:
        parts = [self._role(state.item.owner)]
        if state.status is ItemStatus.DONE:
            who = "probe" if state.by == "probe" else name(state.by or "?")
            parts.append(f"checked by {who} {document_date(state.at)}")
        elif state.status is ItemStatus.FAILING:
            parts.append(f"probe failing: {state.detail}")
        due = state.item.due_at(full_production)
        if due is not None:
            parts.append(f"due {due.astimezone(UTC):%Y-%m-%d}")
        elif state.item.due:
            parts.append(f"due {state.item.due} after full production")
        return ", ".join(parts)
