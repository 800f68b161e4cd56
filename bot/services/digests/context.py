"""What every digest collaborator shares: the database, the clock, the roles, the incident
deadlines, the metrics provider, the configured digests and the chat they are posted in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.clock import Clock
from bot.config.digests import DigestConfig
from bot.domain.incident import Deadlines
from bot.domain.roles import RoleDirectory
from bot.providers.metrics.sources import MetricSources
from bot.services.digests.ports import DigestChat
from bot.services.telemetry import NullTelemetry, Telemetry
from bot.store.database import Database


@dataclass(frozen=True)
class DigestContext:
    """The dependencies and settings of the digest use cases, given at construction."""

    db: Database
    clock: Clock
    roles: RoleDirectory
    deadlines: Deadlines
    metrics: MetricSources
    # False with `metrics.provider: none`: the scorecard says "no data" without asking.
    metrics_enabled: bool
    digests: tuple[DigestConfig, ...]
    chat: DigestChat
    # A slot posted more than this long after its time says it is late.
    late_after: timedelta = timedelta(minutes=2)
    # Post-migration tasks of rollouts completed this long ago are still looked at.
    completed_window: timedelta = timedelta(days=120)
    # `rollbot_digests_posted_total{digest}` counts each digest posted by this process.
    telemetry: Telemetry = field(default_factory=NullTelemetry)
