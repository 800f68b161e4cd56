"""rollbot's own state as its gauges show it, read from the database at scrape time.

Every replica reads the same tables, so `/metrics` of any replica gives the same outbox
depth, open incidents and rollouts; counters of what one process did are in
bot/services/telemetry.py instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.store import incidents, outbox, rollouts
from bot.store.database import Database


@dataclass(frozen=True)
class OperationalState:
    """What the gauges show: the outbox (waiting and given up on), open incidents, active
    rollouts."""

    outbox_depth: int
    # Age of the oldest notification waiting in the outbox; 0 when it is empty.
    outbox_oldest_seconds: float
    incidents_open: int
    # (flag, percentage) of each running or paused rollout.
    rollout_percentages: list[tuple[str, int]]
    # Notifications the outbox gave up on (after 12 failed attempts): never delivered.
    outbox_given_up: int


class Operations:
    """Reads `OperationalState` in a fixed number of queries (three)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def state(self) -> OperationalState:
        """The gauges' values now."""
        now = self.clock.now()
        with self.db.read() as s:
            backlog = outbox.backlog(s)
            open_incidents = incidents.open_count(s)
            percentages = rollouts.active_percentages(s)
        oldest = backlog.oldest
        age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        return OperationalState(backlog.waiting, age, open_incidents, percentages, backlog.given_up)
