"""The sign-off chain: approve, reject, hold the rollout at a gate, show the chain.

Every signature is written under the rollout's row lock, in the same transaction as its
audit event, and is unique per (visit of the step, role): a double click, a Slack retry or
two replicas racing sign once. A button names the visit it was sent for, so a click after
the gate passed or after a rollback changes nothing and says so.

Split by concept: reading the chain (holds, the card) is in signoff_chain.py, checking a
click and its signer in signoff_guard.py, and signing (approve, reject) here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.domain import rollout as machine
from bot.domain.actor import Actor
from bot.domain.errors import Conflict, RollbotError
from bot.domain.rollout import RolloutState
from bot.domain.signoff import AlreadySigned, mention
from bot.services.rollouts.reading import Outcome
from bot.services.rollouts.views import RolloutView
from bot.services.signoff.guard import SignoffGuard
from bot.services.signoff.ports import MessageRef, SignButton
from bot.store import audit, signoffs
from bot.store.models import RolloutRow
from bot.store.signoff_models import SignatureRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignResult:
    """What a click did: a sentence for the person who clicked, and whether it changed."""

    text: str
    changed: bool
    view: RolloutView | None = None


class SignoffService(SignoffGuard):
    """Approvals and rejections of the gates of the current step (reading the chain is in
    `SignoffChain`, checking a click in `SignoffGuard`)."""

    # -- signing -------------------------------------------------------------------------

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
