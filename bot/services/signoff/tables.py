"""Reading the sign-off chain for people: the plan's approval table (Role | Name |
Signature | Date) and what waits for one person's signature."""

from __future__ import annotations

from sqlmodel import Session

from bot.services.documents import document_date
from bot.services.rollouts.reading import current_row
from bot.services.rollouts.views import RolloutView, plan_of
from bot.services.signoff.chain import SignoffChain
from bot.services.signoff.context import SignoffContext
from bot.store import rollouts, signoffs
from bot.store.models import RolloutRow

TableRow = tuple[str, str, str, str]
"""Role, signer's user id, Signature, Date (empty strings where nobody signed yet)."""


def table_rows(context: SignoffContext, s: Session, row: RolloutRow) -> list[TableRow]:
    """One row per role of every gate of the rollout's plan, newest visit of each gate."""
    assert row.id is not None
    plan = plan_of(row)
    approvals = [r for r in signoffs.signatures(s, row.id) if r.decision == "approved"]
    out: list[TableRow] = []
    for gate in plan.gates:
        step = next((p.index for p in plan.steps() if p.step.gate == gate.id), None)
        # Only the newest visit of the gate's step counts: a new visit restarts the chain.
        mine = [a for a in approvals if a.gate_id == gate.id and a.step_index == step]
        latest = max((a.entered_at for a in mine), default=None)
        for role_id in gate.roles:
            name = context.role_name(role_id)
            if gate is not plan.gates[0]:
                # The first gate is the plan's approval chain; later ones say which they are.
                name = f"{name} ({gate.title})"
            signed = next(
                (a for a in mine if a.role_id == role_id and a.entered_at == latest), None
            )
            if signed is None:
                out.append((name, "", "", ""))
            else:
                date = document_date(signed.at)
                out.append((name, signed.user_id, f"approved via {signed.via}", date))
    return out


def signatures_table(context: SignoffContext, flag_key: str) -> tuple[RolloutView, list[TableRow]]:
    """The flag's active (else latest) rollout and its approval table."""
    with context.db.read() as s:
        row = current_row(s, flag_key)
        view = context.rollouts.view_of(s, row, context.clock.now())
        return view, table_rows(context, s, row)


def waiting_for(
    context: SignoffContext, reader: SignoffChain, user_id: str
) -> list[tuple[RolloutView, str]]:
    """Gates waiting for `user_id` to sign now: (rollout, role name)."""
    groups = context.permissions.group_members()
    found: list[tuple[RolloutView, str]] = []
    with context.db.read() as s:
        for row in rollouts.active(s):
            current = reader.current(s, row)
            if current is None or row.started_by == user_id:
                continue
            _plan, _gate, chain = current
            for role_id in chain.next_roles():
                role = context.directory.role(role_id)
                if role is None:
                    continue
                members = groups.get(role.usergroup, []) if role.usergroup else []
                if role.has(user_id, members) or user_id in role.backups:
                    view = context.rollouts.view_of(s, row, context.clock.now())
                    found.append((view, role.name))
    return found
