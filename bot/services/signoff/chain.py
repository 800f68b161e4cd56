"""Reading a rollout's sign-off chain: the gate of its step, who has signed, what holds
it, and the chain and buttons on its card.

`SignoffService` (service.py) composes this reader with the guard (guard.py, who may sign)
and does the signing itself; requests, timeouts and tables read the chain through it too.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from bot.domain.actions import Action, Emphasis
from bot.domain.checklist import Checklist, checklist_hold
from bot.domain.message import Message
from bot.domain.plan import Plan
from bot.domain.rollout import RolloutState
from bot.domain.signoff import Chain, Gate, Rejection, Signature, chain_hold
from bot.services.events import Said
from bot.services.rollouts.holds import HoldQuery
from bot.services.rollouts.views import Button, RolloutView, plan_of
from bot.services.signoff.context import SignoffContext
from bot.services.signoff.events import (
    ChecklistsHolding,
    OpenItemsHold,
    SignoffChainNote,
    chain_state,
    open_checklists,
)
from bot.services.signoff.ports import (
    ANY_ROLE,
    SignButton,
)
from bot.store import signoffs
from bot.store.models import RolloutRow


def visit_ms(entered_at: datetime) -> int:
    """A step visit as the integer a button carries."""
    return int(entered_at.timestamp() * 1000)


def gate_of(plan: Plan, step_index: int) -> Gate | None:
    """The gate that must pass to leave a step, if it has one."""
    gate_id = plan.step(step_index).step.gate
    return next((g for g in plan.gates if g.id == gate_id), None) if gate_id else None


class SignoffChain:
    """Gates of the current step: the chain, the hold it puts on the rollout, the card."""

    def __init__(self, context: SignoffContext) -> None:
        self.context = context

    # -- reading -------------------------------------------------------------------------

    def chain(self, s: Session, row: RolloutRow, gate: Gate) -> Chain:
        """The gate's chain for the rollout's current visit of its step."""
        assert row.id is not None
        rows = signoffs.visit_signatures(s, row.id, row.step_index, row.step_started_at)
        signed = {
            r.role_id: Signature(r.role_id, r.user_id, r.at)
            for r in rows
            if r.decision == "approved"
        }
        rejected = tuple(
            Rejection(r.role_id, r.user_id, r.at, r.reason or "")
            for r in rows
            if r.decision == "rejected"
        )
        return Chain(gate, signed, rejected)

    def current(self, s: Session, row: RolloutRow) -> tuple[Plan, Gate, Chain] | None:
        """The open gate of an active rollout (plan, gate, chain), or None."""
        if row.state not in (RolloutState.RUNNING.value, RolloutState.PAUSED.value):
            return None
        plan = plan_of(row)
        gate = gate_of(plan, row.step_index)
        if gate is None:
            return None
        return plan, gate, self.chain(s, row, gate)

    def required_checklists(self, plan: Plan, gate: Gate) -> list[Checklist]:
        """The checklists a gate needs complete."""
        return [c for c in plan.checklists if c.id in gate.checklists]

    def hold(self, query: HoldQuery) -> Message | None:
        """`AdvanceHold`: missing signatures, or open items of the gate's checklists."""
        gate = gate_of(query.plan, query.snapshot.step_index)
        if gate is None:
            return None
        reasons = [chain_hold(self.chain(query.session, query.row, gate), self.context.directory)]
        required = self.required_checklists(query.plan, gate)
        if required:
            states = self.context.checklists.states(query.session, query.row, query.plan)
            reasons.append(checklist_hold(required, states))
        found = [r for r in reasons if r]
        return (Message.join("; ", found) + ".") if found else None

    def annotate(
        self, s: Session, row: RolloutRow, view: RolloutView, now: datetime
    ) -> RolloutView:
        """Add the chain, the checklist items holding the gate and Approve / Reject buttons
        to a rollout's card."""
        found = self.current(s, row)
        if found is None:
            return view
        plan, gate, chain = found
        notes: list[Said] = [
            SignoffChainNote(
                gate.title,
                gate.order.value == "sequential",
                chain_state(chain, self.context.directory),
            )
        ]
        required = self.required_checklists(plan, gate)
        states = self.context.checklists.states(s, row, plan) if required else []
        holding = open_checklists(required, states, self.context.directory)
        if holding:
            notes.append(ChecklistsHolding(holding))
        buttons = list(view.buttons)
        visit = visit_ms(row.step_started_at)
        if not chain.complete and row.state == RolloutState.RUNNING.value:
            for role_id in chain.next_roles():
                value = SignButton(view.id, row.step_index, visit, role_id).dumps()
                label = f"Approve as {self.context.role_name(role_id)}"
                buttons.append(Button(label, Action.APPROVE, value, Emphasis.CONFIRM))
            # One Reject for every signer still to sign, in or out of turn.
            value = SignButton(view.id, row.step_index, visit, ANY_ROLE).dumps()
            buttons.append(Button("Reject", Action.REJECT, value, Emphasis.DESTRUCTIVE))
        held: list[Said] = []
        if row.state == RolloutState.RUNNING.value:
            # Short here: the notes above list the chain and the open items in full.
            signatures = chain_hold(chain, self.context.directory)
            if signatures:
                held.append(signatures)
            ids = {c.id for c in required}
            items = tuple(st.item.text for st in states if st.checklist.id in ids and not st.done)
            if items:
                held.append(OpenItemsHold(items))
        return replace(view, notes=(*view.notes, *notes), buttons=buttons, held=(*view.held, *held))
