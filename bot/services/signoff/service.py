"""The sign-off chain: approve, reject, hold the rollout at a gate, show the chain.

Every signature is written under the rollout's row lock, in the same transaction as its
audit event, and is unique per (visit of the step, role): a double click, a Slack retry or
two replicas racing sign once. A button names the visit it was sent for, so a click after
the gate passed or after a rollback changes nothing and says so.

Composed, not inherited: `SignoffService` builds one `SignoffContext` and the collaborators
that share it — reading the chain (holds, the card) in chain.py, checking a click and its
signer in guard.py — and signs (approve, reject) here. Adapters use only this facade; the
container gives the rollout service its reader as a hold and an annotator.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.clock import Clock
from bot.config.signoff import SignoffConfig
from bot.domain import rollout as machine
from bot.domain.actor import Actor
from bot.domain.errors import Conflict, RollbotError
from bot.domain.rollout import RolloutState
from bot.domain.signoff import AlreadySigned, Gate
from bot.services.events import Said
from bot.services.permissions import Permissions
from bot.services.rollouts.reading import Outcome
from bot.services.rollouts.service import RolloutService
from bot.services.rollouts.views import RolloutView
from bot.services.signoff.chain import SignoffChain
from bot.services.signoff.checklists import ChecklistService
from bot.services.signoff.context import SignoffContext
from bot.services.signoff.events import (
    AlreadySignedReply,
    AskSigned,
    GateRejected,
    GateSigned,
    RejectedReply,
    RejectionTold,
    SignedReply,
)
from bot.services.signoff.guard import SignoffGuard
from bot.services.signoff.ports import (
    MessageRef,
    NullSignoffNotifier,
    SignButton,
    SignoffNotifier,
    close_quietly,
)
from bot.store import audit, signoffs
from bot.store.database import Database
from bot.store.models import RolloutRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignResult:
    """What a click did: a sentence for the person who clicked, and whether it changed."""

    text: Said
    changed: bool
    view: RolloutView | None = None


class SignoffService:
    """The door to the sign-off chain: approvals and rejections of the gates of the current
    step, the chain's hold on the rollout and its card (read by `SignoffChain`), and who may
    sign (checked by `SignoffGuard`)."""

    def __init__(
        self,
        db: Database,
        rollout_service: RolloutService,
        permissions: Permissions,
        checklists: ChecklistService,
        clock: Clock,
        config: SignoffConfig,
        *,
        notifier: SignoffNotifier | None = None,
    ) -> None:
        self.context = SignoffContext(
            db=db,
            clock=clock,
            rollouts=rollout_service,
            permissions=permissions,
            checklists=checklists,
            config=config,
            notifier=notifier or NullSignoffNotifier(),
        )
        self.reader = SignoffChain(self.context)
        """Reads the chain: the rollouts' `AdvanceHold` and the card's annotator."""
        self.guard = SignoffGuard(self.context, self.reader)
        # Before asking for a reason: raises unless the actor could reject now.
        self.may_reject = self.guard.may_reject
        # What signing uses, and what the other sign-off services and adapters read.
        self.db = self.context.db
        self.clock = self.context.clock
        self.rollouts = self.context.rollouts
        self.notifier = self.context.notifier
        self.config = config
        self.directory = self.context.directory

    def preload(self, s: Session, rows: Sequence[RolloutRow]) -> None:
        """Read the signatures and checklist results of many rollouts' cards in one go."""
        signoffs.preload(s, [r.id for r in rows if r.id is not None])

    # -- signing -------------------------------------------------------------------------

    def approve(self, button: SignButton, actor: Actor) -> SignResult:
        """Sign for `button.role`; a repeat of the same signature changes nothing."""
        now = self.clock.now()
        closing: list[MessageRef] = []
        try:
            with self.db.session() as s:
                row, _plan, gate, chain = self.guard.locked(s, button)
                try:
                    self.guard.check(chain, row, button, actor, rejecting=False)
                except AlreadySigned as done:
                    return SignResult(
                        AlreadySignedReply(gate.title, self._role(button), done.signature.at),
                        changed=False,
                    )
                assert row.id is not None
                self._sign(s, row, gate, button, actor, now, "approved", None)
                s.flush()
                after = self.reader.chain(s, row, gate)
                closing = self._close_role(s, row, button.role, now)
                flag, rollout_id = row.flag_key, row.id
        except IntegrityError:
            raise Conflict(
                f"{self._role(button)} was signed by someone else at the same moment.",
                "Nothing was changed; see the card for who signed.",
            ) from None
        for ref in closing:
            close_quietly(self.notifier, ref, AskSigned(actor, self._role(button)))
        event = GateSigned(
            actor,
            gate.title,
            self._role(button),
            complete=after.complete,
            next_roles=tuple(self.context.role_name(r) for r in after.next_roles()),
        )
        outcome = self.rollouts.announce(Outcome(self.rollouts.view(rollout_id), event))
        return SignResult(
            SignedReply(gate.title, flag, self._role(button)), changed=True, view=outcome.view
        )

    def reject(self, button: SignButton, actor: Actor, reason: str) -> SignResult:
        """Reject for `button.role` with a reason: the rollout is paused, the requester told."""
        reason = " ".join(reason.split())
        if not reason:
            raise RollbotError("A rejection needs a reason.", "Say why, so it can be fixed.")
        now = self.clock.now()
        with self.db.session() as s:
            row, _plan, gate, chain = self.guard.locked(s, button)
            self.guard.require_enforced()
            button = self.guard.resolve(chain, button, actor)
            self.guard.check(chain, row, button, actor, rejecting=True)
            assert row.id is not None
            self._sign(s, row, gate, button, actor, now, "rejected", reason)
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
        event = GateRejected(actor, gate.title, self._role(button), reason)
        outcome = self.rollouts.announce(Outcome(self.rollouts.view(rollout_id), event))
        try:
            self.notifier.tell(requester, RejectionTold(flag, event))
        except Exception:
            log.exception("could not tell %s about the rejection", requester)
        return SignResult(
            RejectedReply(gate.title, flag, requester), changed=True, view=outcome.view
        )

    # -- helpers -------------------------------------------------------------------------

    def _sign(
        self,
        s: Session,
        row: RolloutRow,
        gate: Gate,
        button: SignButton,
        actor: Actor,
        now: datetime,
        decision: str,
        reason: str | None,
    ) -> None:
        """Record one approval or rejection for this visit of the step, and audit it."""
        assert row.id is not None
        signoffs.add_signature(
            s,
            rollout_id=row.id,
            step_index=row.step_index,
            entered_at=row.step_started_at,
            gate_id=gate.id,
            role_id=button.role,
            user_id=actor.id,
            via=actor.via.value,
            decision=decision,
            reason=reason,
            at=now,
        )
        audit.record(
            s,
            actor=actor,
            at=now,
            action=f"signoff.{decision}",
            subject_type="rollout",
            subject_id=row.flag_key,
            after={"gate": gate.id, "role": button.role, "step": row.step_index},
            detail=reason or f"{self._role(button)} signed {gate.title}",
        )

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
                signoffs.save(s, request)
        return refs

    def _role(self, button: SignButton) -> str:
        return self.context.role_name(button.role)
