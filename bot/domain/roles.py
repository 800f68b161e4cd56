"""Named roles (Engineering Lead, CTO, ...) and who may do what.

Pure rules: membership comes in as data (user ids, plus the members of a Slack user group
already resolved by the caller), so the same checks run in Slack, the shell and tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.domain.errors import RollbotError
from bot.domain.message import GroupMention, Mention, Message

ACTIONS = ("start", "advance", "pause", "resume", "set", "rollback")
"""Rollout actions that config can restrict to roles (see `permissions:` in the config)."""


class Forbidden(RollbotError):
    """The actor lacks the role an action needs; nothing was changed."""


@dataclass(frozen=True)
class Role:
    """A named role: its display name, its members (user ids), an optional Slack user
    group whose members also hold it, and backups to escalate to."""

    id: str
    name: str
    members: tuple[str, ...] = ()
    usergroup: str | None = None
    backups: tuple[str, ...] = ()

    def has(self, user_id: str, group_members: Iterable[str] = ()) -> bool:
        """True when the user holds the role directly or through the user group."""
        return user_id in self.members or user_id in set(group_members)

    def who(self, besides: str | None = None) -> Message:
        """Who holds the role, for a refusal message: its members and its user group;
        `besides` leaves out the person being refused (who cannot be asked instead)."""
        people: list[Mention | GroupMention] = [Mention(m) for m in self.members if m != besides]
        if self.usergroup:
            people.append(GroupMention(self.usergroup))
        if not people:
            if besides is not None and besides in self.members:
                return Message("nobody else holds it (add members or backups in the config)")
            return Message("nobody yet (add members in the config)")
        return Message.join(", ", people)


@dataclass(frozen=True)
class RoleDirectory:
    """All roles and the action -> allowed roles map. An action not in `permissions` is
    open to everyone (so a fresh install works before anyone writes roles)."""

    roles: Mapping[str, Role] = field(default_factory=dict)
    permissions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def role(self, role_id: str) -> Role | None:
        """The role with this id, or None."""
        return self.roles.get(role_id)

    def roles_of(
        self, user_id: str, group_members: Mapping[str, Iterable[str]] | None = None
    ) -> list[Role]:
        """Every role the user holds; `group_members` maps a user group id to its members."""
        groups = group_members or {}
        return [
            r
            for r in self.roles.values()
            if r.has(user_id, groups.get(r.usergroup, ()) if r.usergroup else ())
        ]

    def allowed_roles(self, action: str) -> tuple[str, ...] | None:
        """The roles allowed to do `action`, or None when everyone may."""
        return self.permissions.get(action)

    def check(
        self,
        user_id: str,
        action: str,
        group_members: Mapping[str, Iterable[str]] | None = None,
        what: str | None = None,
    ) -> None:
        """Raise Forbidden unless the user holds a role allowed to do `action`."""
        allowed = self.allowed_roles(action)
        if allowed is None:
            return
        held = {r.id for r in self.roles_of(user_id, group_members)}
        if held & set(allowed):
            return
        names = [self.roles[r].name if r in self.roles else r for r in allowed]
        holders = Message.join(
            "; ",
            (
                Message(f"{self.roles[r].name}: ", self.roles[r].who())
                for r in allowed
                if r in self.roles
            ),
        )
        raise Forbidden(
            f"{what or action.capitalize()} needs the role {_either(names)}, "
            "and you do not hold it.",
            Message("Ask someone who does (", holders, ").") if holders else "",
        )


def _either(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]
