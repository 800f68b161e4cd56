"""Sign-off gates: which roles must approve before a rollout leaves a step, and the rules
a signer cannot get around.

Pure rules: signatures, membership and the requester come in as data, so the same checks
run for Slack buttons, the shell and tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.domain.durations import parse_duration
from bot.domain.errors import Conflict, InvalidTransition
from bot.domain.message import Mention, Message, Strong
from bot.domain.roles import Forbidden, RoleDirectory


class Order(StrEnum):
    """Whether a gate's roles sign one after another (the reference order) or in any order."""

    SEQUENTIAL = "sequential"
    PARALLEL = "parallel"


class Gate(BaseModel):
    """A sign-off gate: leaving the step that names it needs every role's approval."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str | None = None
    roles: list[str] = Field(min_length=1)
    order: Order = Order.SEQUENTIAL
    timeout: str | None = None
    checklists: list[str] = Field(default_factory=list)

    @field_validator("timeout")
    @classmethod
    def _timeout_is_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def title(self) -> str:
        """The gate's name for people."""
        return self.name or self.id

    @property
    def timeout_delta(self) -> timedelta | None:
        """How long the gate may wait before the rollout is paused, if it has a timeout."""
        return parse_duration(self.timeout) if self.timeout else None


@dataclass(frozen=True)
class Signature:
    """An approval: who signed for which role, when."""

    role: str
    user: str
    at: datetime


@dataclass(frozen=True)
class Rejection:
    """A rejection: who, for which role, when and why."""

    role: str
    user: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class Chain:
    """A gate's signatures so far, for one visit of its step."""

    gate: Gate
    signatures: Mapping[str, Signature] = field(default_factory=dict)
    rejections: tuple[Rejection, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every role of the gate has signed."""
        return all(r in self.signatures for r in self.gate.roles)

    def pending(self) -> list[str]:
        """Roles still to sign, in the gate's order."""
        return [r for r in self.gate.roles if r not in self.signatures]

    def next_roles(self) -> list[str]:
        """Roles that may sign now: the first unsigned (sequential) or all unsigned."""
        pending = self.pending()
        if self.gate.order is Order.SEQUENTIAL:
            return pending[:1]
        return pending

    def open_rejection(self) -> Rejection | None:
        """The newest rejection not yet overridden by an approval of the same role."""
        for rejection in reversed(self.rejections):
            signed = self.signatures.get(rejection.role)
            if signed is None or signed.at < rejection.at:
                return rejection
        return None


class AlreadySigned(Exception):
    """The same person already signed for this role: the click changes nothing."""

    def __init__(self, signature: Signature) -> None:
        super().__init__(f"already signed by {signature.user}")
        self.signature = signature


def _name(directory: RoleDirectory, role_id: str) -> str:
    role = directory.role(role_id)
    return role.name if role else role_id


def check_signer(
    chain: Chain,
    role_id: str,
    user_id: str,
    requester: str,
    directory: RoleDirectory,
    group_members: Mapping[str, Iterable[str]] | None = None,
    allow_multiple_roles: bool = False,
    rejecting: bool = False,
) -> None:
    """Raise unless `user_id` may approve (or reject) for `role_id` now.

    Raises AlreadySigned for a repeat of the same signature (callers treat it as a no-op),
    Forbidden for who-may-sign rules and InvalidTransition / Conflict for the chain's state.
    """
    gate = chain.gate
    if role_id not in gate.roles:
        raise InvalidTransition(
            Message(
                "The gate ", Strong(gate.title), f" does not ask for {_name(directory, role_id)}."
            ),
            "Nothing was changed.",
        )
    role = directory.role(role_id)
    groups = group_members or {}
    members = groups.get(role.usergroup, ()) if role and role.usergroup else ()
    # Backups hold the role for sign-offs escalated to them.
    if role is None or not (role.has(user_id, members) or user_id in role.backups):
        who = role.who() if role else Message("nobody (the role is not in the config)")
        raise Forbidden(
            f"Only someone holding the role {_name(directory, role_id)} can sign for it, "
            "and you do not hold it.",
            Message("Who can: ", who, "."),
        )
    if user_id == requester:
        raise Forbidden(
            "You started this rollout, so you cannot sign for it.",
            Message(f"Ask another {_name(directory, role_id)}: ", role.who(besides=user_id), "."),
        )
    signed = chain.signatures.get(role_id)
    if signed is not None:
        if signed.user == user_id and not rejecting:
            raise AlreadySigned(signed)
        raise Conflict(
            Message(
                f"{_name(directory, role_id)} has already signed this gate (",
                Mention(signed.user),
                ").",
            ),
            "Nothing was changed.",
        )
    if not allow_multiple_roles:
        other = next(
            (s for s in chain.signatures.values() if s.user == user_id and s.role != role_id),
            None,
        )
        if other is not None:
            raise Forbidden(
                f"You already signed this gate as {_name(directory, other.role)}; one person "
                "signs for one role.",
                Message(
                    f"Ask another {_name(directory, role_id)}: ", role.who(besides=user_id), "."
                ),
            )
    if not rejecting and role_id not in chain.next_roles():
        waiting = ", ".join(_name(directory, r) for r in chain.next_roles())
        raise InvalidTransition(
            Message(
                "The gate ",
                Strong(gate.title),
                f" signs in order and is waiting for {waiting} first.",
            ),
            "You will get a message when it is your turn.",
        )


def chain_hold(chain: Chain, directory: RoleDirectory) -> Message | None:
    """Why the gate holds the rollout (naming who must sign next), or None when complete."""
    if chain.complete:
        return None
    names = [_name(directory, r) for r in chain.pending()]
    nxt = ", ".join(_name(directory, r) for r in chain.next_roles())
    text = Message(
        "sign-off ",
        Strong(chain.gate.title),
        f" needs {len(names)} more signature(s), next: {nxt}",
    )
    rejection = chain.open_rejection()
    if rejection is not None:
        who = _name(directory, rejection.role)
        text += Message(f" (rejected by {who}: ", rejection.reason, ")")
    return text
