"""Who may sign a gate, and whether a click is for the gate visit now open.

The checks run after `locked` has locked the rollout's row, so what they find still holds
when the signature is written in the same transaction.
"""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session

from bot.domain.actor import Actor
from bot.domain.errors import Conflict, NotFound, RollbotError
from bot.domain.message import Code, Message, Strong
from bot.domain.plan import Plan
from bot.domain.roles import Forbidden
from bot.domain.rollout import RolloutState
from bot.domain.signoff import Chain, Gate, check_signer
from bot.services.signoff.chain import SignoffChain, visit_ms
from bot.services.signoff.context import SignoffContext
from bot.services.signoff.events import RejectPreview
from bot.services.signoff.ports import ANY_ROLE, SignButton
from bot.store import rollouts
from bot.store.models import RolloutRow


class SignoffGuard:
    """Checks a sign-off click: the button is current, gates are enforced, the signer may sign."""

    def __init__(self, context: SignoffContext, chain: SignoffChain) -> None:
        self.context = context
        self.chain = chain

    def resolve(self, chain: Chain, button: SignButton, actor: Actor) -> SignButton:
        """A Reject button for any role: the role still to sign that `actor` holds (the
        next one first)."""
        if button.role != ANY_ROLE:
            return button
        directory = self.context.directory
        groups = self.context.permissions.group_members()
        order = chain.next_roles() + [r for r in chain.pending() if r not in chain.next_roles()]
        for role_id in order:
            role = directory.role(role_id)
            members = groups.get(role.usergroup, []) if role and role.usergroup else []
            if role is not None and (role.has(actor.id, members) or actor.id in role.backups):
                return replace(button, role=role_id)
        who = Message.join(
            "; ",
            (
                Message(f"{self.context.role_name(r)}: ", role.who())
                for r in chain.pending()
                if (role := directory.role(r)) is not None
            ),
        )
        raise Forbidden(
            Message(
                "Only someone still to sign ",
                Strong(chain.gate.title),
                " can reject it, and you are not.",
            ),
            Message("Who can: ", who, ".") if who else "",
        )

    def locked(self, s: Session, button: SignButton) -> tuple[RolloutRow, Plan, Gate, Chain]:
        """Lock the button's rollout and check the button is for its current gate visit."""
        row = rollouts.by_id(s, button.rollout, for_update=True)
        if row is None:
            raise NotFound("That sign-off request names a rollout that does not exist.")
        stale = "That sign-off request is out of date"
        if row.state == RolloutState.ROLLED_BACK.value:
            raise Conflict(
                Message(
                    f"{stale}: the rollout of ",
                    Code(row.flag_key),
                    " was rolled back, so its chain starts again when it is restarted.",
                ),
                "Nothing was changed.",
            )
        if row.state == RolloutState.COMPLETED.value or row.step_index != button.step:
            raise Conflict(
                Message(
                    f"{stale}: ",
                    Code(row.flag_key),
                    f" has already left that step (it is at step {row.step_index + 1}, "
                    f"{row.percentage}%).",
                ),
                Message(
                    "Nothing was changed; see ", Code(f"/approve {row.flag_key}"), " for its chain."
                ),
            )
        if visit_ms(row.step_started_at) != button.visit:
            raise Conflict(
                Message(
                    f"{stale}: the chain of ",
                    Code(row.flag_key),
                    " started again since it was sent.",
                ),
                "Nothing was changed; use the buttons of the newest request.",
            )
        current = self.chain.current(s, row)
        if current is None:
            raise Conflict(
                Message(f"{stale}: ", Code(row.flag_key), " has no open gate."),
                "Nothing was changed.",
            )
        plan, gate, chain = current
        return row, plan, gate, chain

    def check(
        self, chain: Chain, row: RolloutRow, button: SignButton, actor: Actor, rejecting: bool
    ) -> None:
        """Raise unless gates are enforced and `actor` may sign (or reject) `button.role`."""
        self.require_enforced()
        check_signer(
            chain,
            button.role,
            actor.id,
            row.started_by,
            self.context.directory,
            self.context.permissions.group_members(),
            self.context.config.allow_multiple_roles,
            rejecting=rejecting,
        )

    def require_enforced(self) -> None:
        """Raise unless `signoff.enforce_gates` is on: nobody signs a gate that holds nothing."""
        if not self.context.config.enforce_gates:
            raise RollbotError(
                Message(
                    "Sign-off gates are not enforced here (",
                    Code("signoff.enforce_gates"),
                    " is off).",
                ),
                "Turn it on in the config once the roles name your team.",
            )

    def may_reject(self, button: SignButton, actor: Actor) -> RejectPreview:
        """Raise unless `actor` could reject now (checked before asking for a reason);
        return what rejecting will do, for the reason form."""
        with self.context.db.session() as s:
            row, _plan, gate, chain = self.locked(s, button)
            self.require_enforced()
            button = self.resolve(chain, button, actor)
            self.check(chain, row, button, actor, rejecting=True)
            return RejectPreview(
                gate.title, row.flag_key, self.context.role_name(button.role), row.started_by
            )
