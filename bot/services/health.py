"""Is rollbot able to work: the answer behind `GET /healthz`.

Two questions: does the database answer, and does this process's scheduler run (it does
every piece of due work: scheduled advances, reminders, the five-minute status update)? The
scheduler's heartbeat is process-local on purpose: each replica reports its own scheduler.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.store.database import Database

NOT_STARTED, RUNNING, STOPPED, STALLED = "not started", "running", "stopped", "stalled"


@dataclass(frozen=True)
class SchedulerReport:
    """The scheduler's state (not started, running, stopped, stalled) and its last tick."""

    state: str
    last_tick_at: datetime | None = None
    # How old a last tick may be before the scheduler counts as stalled.
    stale_after: timedelta | None = None

    @property
    def ok(self) -> bool:
        """True unless the scheduler was started and has stopped or stalled since. A process
        that never started one (a web app built on its own, in tests) has nothing to report."""
        return self.state in (RUNNING, NOT_STARTED)


class SchedulerHeartbeat:
    """The scheduler's jobs beat it at each tick; `/healthz` asks whether one was recent."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._state = NOT_STARTED
        self._last: datetime | None = None
        self._stale_after = timedelta(seconds=60)

    def started(self, longest_interval: timedelta) -> None:
        """The scheduler started; its slowest job runs every `longest_interval`. A tick is
        late when three of those pass without one (at least 30 s, for a loaded machine)."""
        with self._lock:
            self._state = RUNNING
            self._last = self.clock.now()
            self._stale_after = max(3 * longest_interval, timedelta(seconds=30))

    def beat(self) -> None:
        """A job of the scheduler ran."""
        with self._lock:
            self._last = self.clock.now()

    def stopped(self) -> None:
        """The scheduler was shut down."""
        with self._lock:
            self._state = STOPPED

    def report(self) -> SchedulerReport:
        """The scheduler's state now."""
        with self._lock:
            state, last, stale_after = self._state, self._last, self._stale_after
        if state == RUNNING and last is not None and self.clock.now() - last > stale_after:
            state = STALLED
        return SchedulerReport(state, last, stale_after if state != NOT_STARTED else None)


@dataclass(frozen=True)
class HealthReport:
    """The database's kind (sqlite, postgresql) and, when it does not answer, why; the
    scheduler's state."""

    database: str
    error: str | None = None
    scheduler: SchedulerReport = SchedulerReport(NOT_STARTED)

    @property
    def database_ok(self) -> bool:
        """True when the database answered."""
        return self.error is None

    @property
    def ok(self) -> bool:
        """True when the database answered and the scheduler (if started) runs."""
        return self.database_ok and self.scheduler.ok


class HealthCheck:
    """Asks the database a trivial question and the scheduler's heartbeat how recent it is."""

    def __init__(self, db: Database, heartbeat: SchedulerHeartbeat) -> None:
        self.db = db
        self.heartbeat = heartbeat

    def check(self) -> HealthReport:
        """Ping the database; a failure gives only the error's kind, never its text (which
        may hold a connection URL)."""
        scheduler = self.heartbeat.report()
        try:
            self.db.ping()
        except Exception as exc:
            return HealthReport(self.db.dialect, type(exc).__name__, scheduler)
        return HealthReport(self.db.dialect, scheduler=scheduler)
