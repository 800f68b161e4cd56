"""A ledger of handled requests, so a retried request or a double click applies once.

Slack retries a request within minutes and a double click comes within seconds, so the
ledger keeps a day (`KEEP`) and forgets the rest: `prune`, run by the scheduler's job in
batches, keeps the table (and every insert into it) small however long rollbot runs.
"""

from __future__ import annotations

from datetime import timedelta

from bot.clock import Clock
from bot.store import requests
from bot.store.database import Database

# How long a handled request is remembered: far longer than Slack retries (minutes).
KEEP = timedelta(days=1)
# Rows deleted per transaction, so pruning never holds the write lock for long.
PRUNE_BATCH = 1000


class RequestLedger:
    """Remembers request keys (e.g. Slack trigger ids) in the database."""

    def __init__(self, db: Database, clock: Clock, keep: timedelta = KEEP) -> None:
        self.db = db
        self.clock = clock
        self.keep = keep

    def first_time(self, key: str) -> bool:
        """True the first time `key` is seen, False for every repeat (across replicas)."""
        with self.db.session() as s:
            return requests.remember_once(s, key, self.clock.now())

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
