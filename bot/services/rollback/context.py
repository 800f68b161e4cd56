"""What every part of the rollback service shares: one context given at construction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.clock import Clock
from bot.domain.roles import RoleDirectory
from bot.domain.secrets import OWN_SECRETS
from bot.providers.databases import Databases
from bot.providers.metrics.base import MetricsProvider
from bot.services.extensions import Extensions
from bot.services.rollback.report import RollbackReport
from bot.services.rollouts.service import RolloutService
from bot.store.database import Database

Listener = Callable[[RollbackReport], None]


@dataclass(frozen=True)
class RollbackContext:
    """The rollout service (rollouts are what a rollback changes and reports to), the
    metrics and environment runbook steps use, and the rollback settings."""

    rollouts: RolloutService
    metrics: MetricsProvider
    env: Mapping[str, str]
    roles: RoleDirectory
    notify_roles: list[str]
    output_tail_chars: int
    sleep: Callable[[float], None]
    # Environment variables that are secrets: withheld from commands, masked in output.
    secret_names: frozenset[str] = OWN_SECRETS
    # The config's named databases, for sql runbook steps.
    databases: Databases | None = None
    listeners: Extensions[Listener] = field(default_factory=lambda: Extensions("listeners"))
    """Called with a report when a rollback starts and when it finishes (see README); the
    container adds them and seals the point before `build` returns."""

    @property
    def db(self) -> Database:
        """The rollouts' database (rollback rows live beside them)."""
        return self.rollouts.db

    @property
    def clock(self) -> Clock:
        """The rollouts' clock."""
        return self.rollouts.clock
