"""A ledger of handled requests, so a retried request or a double click applies once."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from bot.store import requests
from bot.store.database import Database


class RequestLedger:
    """Remembers request keys (e.g. Slack trigger ids) in the database."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def first_time(self, key: str) -> bool:
        """True the first time `key` is seen, False for every repeat (across replicas)."""
        try:
            with self.db.session() as s:
                requests.remember(s, key, self.clock.now())
        except IntegrityError:
            return False
        return True
