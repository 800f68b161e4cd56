"""Is rollbot able to work: the answer behind `GET /healthz`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.database import Database


@dataclass(frozen=True)
class HealthReport:
    """The database's kind (sqlite, postgresql) and, when it does not answer, why."""

    database: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the database answered."""
        return self.error is None


class HealthCheck:
    """Asks the database a trivial question."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def check(self) -> HealthReport:
        """Ping the database; a failure gives only the error's kind, never its text (which
        may hold a connection URL)."""
        try:
            self.db.ping()
        except Exception as exc:
            return HealthReport(self.db.dialect, type(exc).__name__)
        return HealthReport(self.db.dialect)
