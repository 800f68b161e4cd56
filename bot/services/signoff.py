"""The sign-off chain: approve, reject, hold the rollout at a gate, show the chain.

Every signature is written under the rollout's row lock, in the same transaction as its
audit event, and is unique per (visit of the step, role): a double click, a Slack retry or
two replicas racing sign once. A button names the visit it was sent for, so a click after
the gate passed or after a rollback changes nothing and says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.config.signoff import SignoffConfig
from bot.domain import rollout as machine
from bot.domain.actor import Actor
from bot.domain.checklist import Checklist, checklist_hold
from bot.domain.errors import Conflict, NotFound, RollbotError
from bot.domain.plan import Plan
from bot.domain.roles import Forbidden, RoleDirectory
from bot.domain.rollout import RolloutSnapshot, RolloutState
from bot.domain.signoff import (
    AlreadySigned,
    Chain,
    Gate,
    Rejection,
    Signature,
    chain_hold,
    check_signer,
    describe_chain,
    mention,
)
from bot.services.checklists import ChecklistService, describe_open
from bot.services.clock import Clock
from bot.services.permissions import Permissions
from bot.services.rollout_core import Outcome
from bot.services.rollouts import RolloutService
from bot.services.signoff_notify import (
    ACTION_APPROVE,
    ACTION_REJECT,
    ANY_ROLE,
    MessageRef,
    NullSignoffNotifier,
    SignButton,
    SignoffNotifier,
)
from bot.services.views import Button, RolloutView, plan_of
from bot.store import audit, rollouts, signoffs
from bot.store.database import Database
from bot.store.models import RolloutRow
from bot.store.signoff_models import SignatureRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignResult:
    """What a click did: a sentence for the person who clicked, and whether it changed."""

    text: str
    changed: bool
    view: RolloutView | None = None


def visit_ms(entered_at: datetime) -> int:
    """A step visit as the integer a button carries."""
    return int(entered_at.timestamp() * 1000)


def gate_of(plan: Plan, step_index: int) -> Gate | None:
    """The gate that must pass to leave a step, if it has one."""
    gate_id = plan.step(step_index).step.gate
    return next((g for g in plan.gates if g.id == gate_id), None) if gate_id else None


class SignoffService:
    """Gates of the current step: hold, chain, approvals and rejections."""

    def __init__(
        self,
        db: Database,
        rollout_service: RolloutService,
        permissions: Permissions,
        checklists: ChecklistService,
        clock: Clock,
        config: SignoffConfig,
        notifier: SignoffNotifier | None = None,
    ) -> None:
        self.db = db
        self.rollouts = rollout_service
        self.permissions = permissions
        self.checklists = checklists
        self.clock = clock
        self.config = config
        self.notifier: SignoffNotifier = notifier or NullSignoffNotifier()

    @property
    def directory(self) -> RoleDirectory:
        """The roles from the config."""
        return self.permissions.directory

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

    def hold(
        self,
        session: Session,
        row: RolloutRow,
        plan: Plan,
        snapshot: RolloutSnapshot,
        at: datetime,
        automatic: bool,
    ) -> str | None:
        """`AdvanceHold`: missing signatures, or open items of the gate's checklists."""
        gate = gate_of(plan, snapshot.step_index)
        if gate is None:
            return None
        reasons = [chain_hold(self.chain(session, row, gate), self.directory)]
        required = self.required_checklists(plan, gate)
        if required:
            states = self.checklists.states(session, row, plan)
            reasons.append(checklist_hold(required, states))
        found = [r for r in reasons if r]
        return ("; ".join(found) + ".") if found else None

    def annotate(
        self, s: Session, row: RolloutRow, view: RolloutView, now: datetime
    ) -> RolloutView:
        """Add the chain, the checklist items holding the gate and Approve / Reject buttons
        to a rollout's card."""
        found = self.current(s, row)
        if found is None:
            return view
        plan, gate, chain = found
        order = "in order" if gate.order.value == "sequential" else "in any order"
        notes = [f"*Sign-off: {gate.title}* ({order})\n{describe_chain(chain, self.directory)}"]
        required = self.required_checklists(plan, gate)
        states = self.checklists.states(s, row, plan) if required else []
        open_text = describe_open(required, states, self.directory)
        if open_text:
            notes.append(f"*Checklists holding this gate:*\n{open_text}")
        buttons = list(view.buttons)
        visit = visit_ms(row.step_started_at)
        if not chain.complete and row.state == RolloutState.RUNNING.value:
            for role_id in chain.next_roles():
                value = SignButton(view.id, row.step_index, visit, role_id).dumps()
                label = f"Approve as {self._name(role_id)}"
                buttons.append(Button(label, ACTION_APPROVE, value, "primary"))
            # One Reject for every signer still to sign, in or out of turn.
            value = SignButton(view.id, row.step_index, visit, ANY_ROLE).dumps()
            buttons.append(Button("Reject", ACTION_REJECT, value, "danger"))
        waiting = view.waiting_for
        if row.state == RolloutState.RUNNING.value:
            # Short here: the notes above list the chain and the open items in full.
            held = [chain_hold(chain, self.directory)]
            missing = sum(1 for st in states if not st.done)
            held.append(f"{missing} checklist item(s) open" if missing else None)
            found_held = [h for h in held if h]
            if found_held:
                waiting = f"{waiting} Held: {'; '.join(found_held)}."
        return replace(view, notes=(*view.notes, *notes), buttons=buttons, waiting_for=waiting)

    def _resolve(self, chain: Chain, button: SignButton, actor: Actor) -> SignButton:
        """A Reject button for any role: the role still to sign that `actor` holds (the
        next one first)."""
        if button.role != ANY_ROLE:
            return button
        groups = self.permissions.group_members()
        order = chain.next_roles() + [r for r in chain.pending() if r not in chain.next_roles()]
        for role_id in order:
            role = self.directory.role(role_id)
            members = groups.get(role.usergroup, []) if role and role.usergroup else []
            if role is not None and (role.has(actor.id, members) or actor.id in role.backups):
                return replace(button, role=role_id)
        who = "; ".join(
            f"{self._name(r)}: {role.who()}"
            for r in chain.pending()
            if (role := self.directory.role(r)) is not None
        )
        raise Forbidden(
            f"Only someone still to sign *{chain.gate.title}* can reject it, and you are not.",
            f"Who can: {who}." if who else "",
        )

    # -- signing -------------------------------------------------------------------------

    def _locked(self, s: Session, button: SignButton) -> tuple[RolloutRow, Plan, Gate, Chain]:
        """Lock the button's rollout and check the button is for its current gate visit."""
        row = rollouts.by_id(s, button.rollout, for_update=True)
        if row is None:
            raise NotFound("That sign-off request names a rollout that does not exist.")
        stale = "That sign-off request is out of date"
        if row.state == RolloutState.ROLLED_BACK.value:
            raise Conflict(
                f"{stale}: the rollout of `{row.flag_key}` was rolled back, so its chain "
                "starts again when it is restarted.",
                "Nothing was changed.",
            )
        if row.state == RolloutState.COMPLETED.value or row.step_index != button.step:
            raise Conflict(
                f"{stale}: `{row.flag_key}` has already left that step (it is at step "
                f"{row.step_index + 1}, {row.percentage}%).",
                "Nothing was changed; see `/approve " + row.flag_key + "` for its chain.",
            )
        if visit_ms(row.step_started_at) != button.visit:
            raise Conflict(
                f"{stale}: the chain of `{row.flag_key}` started again since it was sent.",
                "Nothing was changed; use the buttons of the newest request.",
            )
        current = self.current(s, row)
        if current is None:
            raise Conflict(f"{stale}: `{row.flag_key}` has no open gate.", "Nothing was changed.")
        plan, gate, chain = current
        return row, plan, gate, chain

    def _check(
        self, chain: Chain, row: RolloutRow, button: SignButton, actor: Actor, rejecting: bool
    ) -> None:
        self._require_enforced()
        check_signer(
            chain,
            button.role,
            actor.id,
            row.started_by,
            self.directory,
            self.permissions.group_members(),
            self.config.allow_multiple_roles,
            rejecting=rejecting,
        )

    def _require_enforced(self) -> None:
        if not self.config.enforce_gates:
            raise RollbotError(
                "Sign-off gates are not enforced here (`signoff.enforce_gates` is off).",
                "Turn it on in the config once the roles name your team.",
            )

    def may_reject(self, button: SignButton, actor: Actor) -> str:
        """Raise unless `actor` could reject now (checked before asking for a reason);
        return what rejecting will do, for the reason form."""
        with self.db.session() as s:
            row, _plan, gate, chain = self._locked(s, button)
            self._require_enforced()
            button = self._resolve(chain, button, actor)
            self._check(chain, row, button, actor, rejecting=True)
            return (
                f"Rejecting *{gate.title}* for `{row.flag_key}` as {self._name(button.role)} "
                f"pauses the rollout and tells {mention(row.started_by)} why."
            )

    def approve(self, button: SignButton, actor: Actor) -> SignResult:
        """Sign for `button.role`; a repeat of the same signature changes nothing."""
        now = self.clock.now()
        closing: list[MessageRef] = []
        try:
            with self.db.session() as s:
                row, _plan, gate, chain = self._locked(s, button)
                try:
                    self._check(chain, row, button, actor, rejecting=False)
                except AlreadySigned as done:
                    return SignResult(
                        f"You already signed *{gate.title}* as {self._name(button.role)} "
                        f"({done.signature.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC); "
                        "nothing more to do.",
                        changed=False,
                    )
                assert row.id is not None
                key = signoffs.visit_key(row.id, row.step_index, row.step_started_at)
                s.add(
                    SignatureRow(
                        rollout_id=row.id,
                        step_index=row.step_index,
                        entered_at=row.step_started_at,
                        gate_id=gate.id,
                        role_id=button.role,
                        user_id=actor.id,
                        via=actor.via.value,
                        decision="approved",
                        at=now,
                        approval_key=f"{key}:{button.role}",
                    )
                )
                audit.record(
                    s,
                    actor=actor,
                    at=now,
                    action="signoff.approved",
                    subject_type="rollout",
                    subject_id=row.flag_key,
                    after={"gate": gate.id, "role": button.role, "step": row.step_index},
                    detail=f"{self._name(button.role)} signed {gate.title}",
                )
                s.flush()
                after = self.chain(s, row, gate)
                closing = self._close_role(s, row, button.role, now)
                flag, rollout_id = row.flag_key, row.id
        except IntegrityError:
            raise Conflict(
                f"{self._name(button.role)} was signed by someone else at the same moment.",
                "Nothing was changed; see the card for who signed.",
            ) from None
        for ref in closing:
            self._close_message(ref, f"Signed by {actor.mention} as {self._name(button.role)}.")
        event = f"{actor.mention} signed *{gate.title}* as {self._name(button.role)}."
        if after.complete:
            event += " All signatures are in."
        else:
            nxt = ", ".join(self._name(r) for r in after.next_roles())
            event += f" Next: {nxt}."
        outcome = self.rollouts.announce(Outcome(self.rollouts.view(rollout_id), event))
        return SignResult(
            f"Signed: *{gate.title}* for `{flag}` as {self._name(button.role)}.",
            changed=True,
            view=outcome.view,
        )

    def reject(self, button: SignButton, actor: Actor, reason: str) -> SignResult:
        """Reject for `button.role` with a reason: the rollout is paused, the requester told."""
        reason = " ".join(reason.split())
        if not reason:
            raise RollbotError("A rejection needs a reason.", "Say why, so it can be fixed.")
        now = self.clock.now()
        with self.db.session() as s:
            row, _plan, gate, chain = self._locked(s, button)
            self._require_enforced()
            button = self._resolve(chain, button, actor)
            self._check(chain, row, button, actor, rejecting=True)
            assert row.id is not None
            s.add(
                SignatureRow(
                    rollout_id=row.id,
                    step_index=row.step_index,
                    entered_at=row.step_started_at,
                    gate_id=gate.id,
                    role_id=button.role,
                    user_id=actor.id,
                    via=actor.via.value,
                    decision="rejected",
                    reason=reason,
                    at=now,
                )
            )
            audit.record(
                s,
                actor=actor,
                at=now,
                action="signoff.rejected",
                subject_type="rollout",
                subject_id=row.flag_key,
                after={"gate": gate.id, "role": button.role, "step": row.step_index},
                detail=reason,
            )
            if row.state == RolloutState.RUNNING.value:
                self.rollouts.change_locked(
                    s,
                    row,
                    "rollout.paused",
                    lambda _p, snap, at: machine.pause(snap, at),
                    actor,
                    now,
                )
            flag, rollout_id, requester = row.flag_key, row.id, row.started_by
        event = (
            f"{actor.mention} rejected *{gate.title}* as {self._name(button.role)}: {reason}. "
            "The rollout is paused."
        )
        outcome = self.rollouts.announce(Outcome(self.rollouts.view(rollout_id), event))
        try:
            self.notifier.tell(
                requester,
                f":no_entry: Your rollout of `{flag}` is paused: {event} "
                f"Fix what is asked, then `/rollout resume {flag}`; "
                f"{self._name(button.role)} can then approve.",
            )
        except Exception:
            log.exception("could not tell %s about the rejection", requester)
        return SignResult(
            f"Rejected *{gate.title}* for `{flag}`; the rollout is paused and "
            f"the requester ({mention(requester)}) has been told why.",
            changed=True,
            view=outcome.view,
        )

    # -- helpers -------------------------------------------------------------------------

    def _name(self, role_id: str) -> str:
        role = self.directory.role(role_id)
        return role.name if role else role_id

    def _close_role(
        self, s: Session, row: RolloutRow, role_id: str, now: datetime
    ) -> list[MessageRef]:
        """Close the open request of a role that just signed; return its messages."""
        assert row.id is not None
        refs: list[MessageRef] = []
        for request in signoffs.open_requests(s, row.id):
            if request.role_id == role_id and request.entered_at == row.step_started_at:
                request.closed_at = now
                request.next_at = None
                refs.extend(request.messages)
                s.add(request)
        return refs

    def _close_message(self, ref: MessageRef, text: str) -> None:
        try:
            self.notifier.close(ref, text)
        except Exception:
            log.warning("could not update sign-off message %s", ref, exc_info=True)
