"""A ledger of handled requests, so a retried request or a double click applies once; and
the durable queue of the work those requests leave to do after their ack.

Slack retries a request within minutes and a double click comes within seconds, so the
ledger keeps a day (`KEEP`) and forgets the rest: `prune`, run by the scheduler's job in
batches, keeps the table (and every insert into it) small however long rollbot runs.

A request taken with `take` is recorded with its work (which listener, on what) in the same
row and the same statement as the repeat check, claimed by the replica that took it for
`LEASE`. That replica renews the claim while the work waits or runs there; the work's first
transaction that writes marks it done (`running`), and one that never writes is `finish`ed
when it ends. If the replica dies first, the claim runs out and `claim_waiting` gives the work to
another replica (or to it, restarted), which runs it again. Work older than `MAX_AGE` (Slack's
response_url lasts 30 minutes) or already run `MAX_RUNS` times is given up on, and said so.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.store import requests
from bot.store.database import Database, FirstWrite

# How long a handled request is remembered: far longer than Slack retries (minutes).
KEEP = timedelta(days=1)
# Rows deleted per transaction, so pruning never holds the write lock for long.
PRUNE_BATCH = 1000
# How long a replica holds work it took: it renews the claim well before (a third of it), so
# only a replica that stopped renewing (died) loses its work to another.
LEASE = timedelta(seconds=60)
# A reply can be posted to Slack's response_url for 30 minutes: older work is not run.
MAX_AGE = timedelta(minutes=30)
# Runs of one request's work: the first, and one more when the replica running it died.
MAX_RUNS = 2


@dataclass(frozen=True)
class QueuedRequest:
    """The work one request left to do: `listener` runs it on `payload`."""

    key: str
    listener: str
    payload: dict[str, Any]
    received_at: datetime
    runs: int


@dataclass(frozen=True)
class Claimed:
    """What `claim_waiting` found: work to run now, and work given up on (too old for its
    reply to reach Slack, or run `MAX_RUNS` times already) that will never run."""

    runnable: list[QueuedRequest] = field(default_factory=list)
    expired: list[QueuedRequest] = field(default_factory=list)
    exhausted: list[QueuedRequest] = field(default_factory=list)


class RequestLedger:
    """Remembers request keys (e.g. Slack trigger ids) in the database."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        keep: timedelta = KEEP,
        lease: timedelta = LEASE,
        max_age: timedelta = MAX_AGE,
    ) -> None:
        self.db = db
        self.clock = clock
        self.keep = keep
        self.lease = lease
        self.max_age = max_age

    def first_time(self, key: str) -> bool:
        """True the first time `key` is seen, False for every repeat (across replicas)."""
        with self.db.session() as s:
            return requests.remember_once(s, key, self.clock.now())

    def take(
        self, key: str, listener: str, payload: dict[str, Any], *, hold: bool
    ) -> QueuedRequest | None:
        """Record a request and the work it leaves (`listener` on `payload`) in one write;
        the queued work the first time `key` is seen, None for a repeat (nothing recorded).
        `hold`: the caller runs the work and holds it for `lease` (renewed with `renew`);
        otherwise it waits for whoever claims it next (`claim_waiting`)."""
        now = self.clock.now()
        until, runs = (now + self.lease, 1) if hold else (now, 0)
        with self.db.session() as s:
            if not requests.take(s, key, now, listener, payload, until, runs):
                return None
        return QueuedRequest(key, listener, payload, now, runs)

    @contextmanager
    def running(self, key: str) -> Iterator[FirstWrite]:
        """Around running `key`'s work: its done mark is written in the first transaction
        of the work that writes (the command's own change), so a replica that dies after
        that commit leaves nothing to run again. `committed` on what it yields says whether
        that happened; when it did not (the work only read, or failed), `finish` it."""
        with self.db.first_write(lambda s: requests.finish(s, [key])) as rider:
            yield rider

    def finish(self, keys: Collection[str]) -> None:
        """The work of `keys` is done: only the keys are kept (for repeats)."""
        with self.db.session() as s:
            requests.finish(s, keys)

    def renew(self, keys: Collection[str]) -> None:
        """Hold the work of `keys` (waiting or running here) for another `lease`."""
        if keys:
            with self.db.session() as s:
                requests.renew(s, keys, self.clock.now() + self.lease)

    def release(self, keys: Collection[str]) -> None:
        """Let go of work held here but not started (shutting down): the next claimer, on
        any replica, runs it without waiting for the lease to run out."""
        if keys:
            with self.db.session() as s:
                requests.renew(s, keys, self.clock.now())

    def claim_waiting(self, limit: int, exclude: Collection[str] = ()) -> Claimed:
        """Claim up to `limit` requests whose work nobody holds (`exclude`: the caller's
        own), oldest first, for `lease`; the too old and the run too often are given up on
        in the same transaction. Looks in a read-only session first: when nothing waits
        (nearly always), the write lock is not taken."""
        now = self.clock.now()
        claimed = Claimed()
        with self.db.read() as s:
            if not requests.claimable(s, now, exclude):
                return claimed
        with self.db.session() as s:
            rows = requests.claim_waiting(s, now, now + self.lease, limit, exclude)
            for row in rows:
                queued = QueuedRequest(
                    row.key, row.listener or "", dict(row.payload or {}), row.at, row.runs
                )
                if now - row.at > self.max_age:
                    claimed.expired.append(queued)
                elif row.runs > MAX_RUNS or not row.listener or not row.payload:
                    claimed.exhausted.append(queued)
                else:
                    claimed.runnable.append(queued)
            requests.finish(s, [q.key for q in claimed.expired + claimed.exhausted])
        return claimed

    def waiting(self) -> int:
        """How many requests' work is not done yet (here or on any replica)."""
        with self.db.read() as s:
            return requests.waiting(s)

    def prune(self, batch: int = PRUNE_BATCH) -> int:
        """Forget requests handled longer than `keep` ago, `batch` rows per transaction;
        return how many were forgotten."""
        before = self.clock.now() - self.keep
        forgotten = 0
        while True:
            with self.db.session() as s:
                done = requests.forget_older(s, before, batch)
            forgotten += done
            if done < batch:
                return forgotten

    def size(self) -> int:
        """How many handled requests are remembered now."""
        with self.db.read() as s:
            return requests.count(s)
