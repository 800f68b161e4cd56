"""`DigestService`: the door every caller of digests goes through (the scheduler's tick,
`/rollout digest`, rollbot's own metrics)."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import Clock
from bot.config.digests import DigestConfig
from bot.domain.errors import NotFound
from bot.domain.incident import Deadlines
from bot.domain.message import Code, Message
from bot.domain.roles import RoleDirectory
from bot.providers.metrics.sources import MetricSources
from bot.services.digests.collect import DigestCollector
from bot.services.digests.context import DigestContext
from bot.services.digests.digest import Digest
from bot.services.digests.ports import DigestChat, NullDigestChat
from bot.services.digests.schedule import DigestSchedule, Posted
from bot.services.telemetry import NullTelemetry, Telemetry
from bot.store import digests as store
from bot.store.database import Database

DEFAULT_NAME = "digest"


class DigestService:
    """Builds digests, posts each scheduled slot once, and counts what was posted."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        digests: list[DigestConfig],
        roles: RoleDirectory,
        deadlines: Deadlines,
        metrics: MetricSources,
        *,
        metrics_enabled: bool,
        chat: DigestChat | None = None,
        tick_seconds: int = 15,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.context = DigestContext(
            db,
            clock,
            roles,
            deadlines,
            metrics,
            metrics_enabled,
            tuple(digests),
            chat or NullDigestChat(),
            # A slot is late when a tick that ran on time would have posted it already.
            late_after=timedelta(seconds=max(60, 2 * tick_seconds)),
            telemetry=telemetry or NullTelemetry(),
        )
        self.collector = DigestCollector(self.context)
        self.schedule = DigestSchedule(self.context, self.collector)

    @property
    def names(self) -> list[str]:
        """The configured digests' names, in config order."""
        return [d.name for d in self.context.digests]

    def show(self, name: str | None = None) -> Digest:
        """A digest now (not posted): the one named, else the first configured one, else
        the default digest (same content, no schedule). Unknown names raise NotFound
        listing the configured ones."""
        if name is None:
            first = self.context.digests[0] if self.context.digests else None
            if first is None:
                return self.collector.collect(DEFAULT_NAME)
            return self.collector.collect(first.name, first.timezone)
        found = next((d for d in self.context.digests if d.name == name), None)
        if found is None:
            known = self.names
            hint = (
                Message("Configured digests: ", Message.join(", ", (Code(n) for n in known)), ".")
                if known
                else Message(
                    "No digests are configured (`digests:` in the config); ",
                    Code("/rollout digest"),
                    " shows the default one.",
                )
            )
            raise NotFound(Message("There is no digest ", Code(name), "."), hint)
        return self.collector.collect(found.name, found.timezone)

    def run_due(self) -> list[Posted]:
        """Post every digest whose slot is due (each slot once across replicas and
        restarts), then retry digests the chat refused before."""
        return self.schedule.run_due()

    def posted_counts(self) -> dict[str, int]:
        """How many slots each digest has posted, by digest name (every configured digest
        listed, 0 when none yet): for `rollbot_digests_posted_total{digest}`."""
        with self.context.db.session() as s:
            counts = store.posted_counts(s)
        return {**dict.fromkeys(self.names, 0), **counts}
