"""Who may do what: the role directory plus Slack user-group membership."""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.actor import Actor, Via
from bot.domain.roles import RoleDirectory

GroupResolver = Callable[[str], list[str]]
"""Returns the user ids in a Slack user group (e.g. via `usergroups.users.list`)."""


class Permissions:
    """Checks actions against the roles config; rollbot itself (the scheduler) may do all."""

    def __init__(self, directory: RoleDirectory, groups: GroupResolver | None = None) -> None:
        self.directory = directory
        self.groups = groups

    def group_members(self) -> dict[str, list[str]]:
        """Members of every user group that a role names (empty without a resolver)."""
        if self.groups is None:
            return {}
        return {
            r.usergroup: self.groups(r.usergroup)
            for r in self.directory.roles.values()
            if r.usergroup
        }

    def require(self, actor: Actor, action: str, what: str | None = None) -> None:
        """Raise Forbidden (a RollbotError) unless `actor` may do `action`."""
        if actor.via is Via.SCHEDULER:
            return
        if self.directory.allowed_roles(action) is None:
            return
        self.directory.check(actor.id, action, self.group_members(), what)
