"""Who is running a rollback right now, as PostgreSQL knows it: a session advisory lock.

A rollback's lease (`lease_until`) says how long its runner may take; when the runner dies
(`kill -9`, a lost host) the lease only tells after the step's whole budget. On PostgreSQL the
runner also holds an advisory lock on a connection of its own while it runs: the server
drops it the moment that session ends, so another replica can tell at its next tick that
nobody runs the rollback any more, and take it over. On SQLite (one process) the lease is
all there is and the lock is a no-op.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Connection, text

from bot.store.database import Database

log = logging.getLogger(__name__)

# The advisory lock's first key: rollbot's rollback runs (the second is the rollback id).
ROLLBACK_RUNS = 0x526F6C6C  # "Roll"


class RunLock:
    """The lock held for one rollback run; `release` it when the run ends (idempotent)."""

    def __init__(self, connection: Connection | None, key: int) -> None:
        self._connection = connection
        self.key = key

    adopted = False
    """True when this process took it back from one of its own runs that crashed."""

    @property
    def held(self) -> bool:
        """True while this process holds the lock (always False on SQLite)."""
        return self._connection is not None

    def release(self) -> None:
        """Let go of the lock and give the connection back."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.execute(
                text("SELECT pg_advisory_unlock(:a, :b)"), {"a": ROLLBACK_RUNS, "b": self.key}
            )
        except Exception:  # the session is gone: so is its lock
            log.warning("could not release the run lock of rollback %s", self.key, exc_info=True)
        finally:
            connection.close()


NO_LOCK = RunLock(None, 0)


def take(db: Database, rollback_id: int) -> RunLock | None:
    """Take rollback `rollback_id`'s run lock: the lock, or None when another live session
    holds it. On SQLite, a lock object that holds nothing."""
    if not db.is_postgres:
        return RunLock(None, rollback_id)
    connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        got = connection.execute(
            text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": ROLLBACK_RUNS, "b": rollback_id}
        ).scalar()
    except BaseException:
        connection.close()
        raise
    if not got:
        connection.close()
        return None
    return RunLock(connection, rollback_id)


# Runs that crashed inside a live process (a bug, not a death): their locks stay held, so no
# replica takes them over while this process lives, and this process takes them back when
# their lease runs out, as it did before it held locks.
_orphans: dict[int, RunLock] = {}
_orphans_lock = threading.Lock()


def orphan(lock: RunLock) -> None:
    """Keep the lock of a run that crashed here, for `adopt` once its lease runs out."""
    if lock.held:
        with _orphans_lock:
            _orphans[lock.key] = lock


def adopt(rollback_id: int) -> RunLock | None:
    """The lock of a run of this process that crashed, taken back (or None)."""
    with _orphans_lock:
        lock = _orphans.pop(rollback_id, None)
    if lock is not None:
        lock.adopted = True
    return lock


def keep_orphan(lock: RunLock) -> None:
    """Put back a lock `adopt` gave when the run could not be taken over after all."""
    if lock.adopted:
        lock.adopted = False
        orphan(lock)
