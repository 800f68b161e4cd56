"""What every part of the sign-off chain shares: the database, the clock, the rollout
service it holds and annotates, who holds which role, the checklists, the `signoff:`
settings and the chat port that reaches signers.

One `SignoffContext` is built by `SignoffService` and handed to each collaborator (the
chain reader, the guard, requests, timeouts, tables, the report), so they read the same
objects instead of reaching into each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock
from bot.config.signoff import SignoffConfig
from bot.domain.roles import RoleDirectory
from bot.services.permissions import Permissions
from bot.services.rollouts.service import RolloutService
from bot.services.signoff.checklists import ChecklistService
from bot.services.signoff.ports import NullSignoffNotifier, SignoffNotifier
from bot.store.database import Database


@dataclass(frozen=True)
class SignoffContext:
    """The sign-off chain's dependencies, given once at construction."""

    db: Database
    clock: Clock
    rollouts: RolloutService
    permissions: Permissions
    checklists: ChecklistService
    config: SignoffConfig
    notifier: SignoffNotifier = field(default_factory=NullSignoffNotifier)

    @property
    def directory(self) -> RoleDirectory:
        """The roles from the config."""
        return self.permissions.directory

    def role_name(self, role_id: str) -> str:
        """A role's display name (its id when the config does not define it)."""
        role = self.directory.role(role_id)
        return role.name if role else role_id
