"""The builtin status page: updates kept in rollbot's database, served at /status (the page
itself is read by bot/services/status_page.py).

Publishing writes one transaction (the incident's entry plus one history row), so it
either happened or raised; there is no half-published update to retry around.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from bot.config.providers import BuiltinStatusConfig
from bot.providers.statuspage.base import StatusPageError, StatusUpdate, check_update
from bot.store import statuspage as repo
from bot.store.database import Database

log = logging.getLogger(__name__)


class BuiltinStatusPage:
    """rollbot's own public status page."""

    name = "builtin"

    def __init__(self, db: Database, options: BuiltinStatusConfig) -> None:
        self.db = db
        self.options = options

    def check(self) -> str | None:
        """Nothing outside to ask: the page is rollbot's database."""
        return "kept in rollbot's database"

    def publish(self, update: StatusUpdate) -> str:
        """Store the update; the reference is the incident's anchor on the page."""
        check_update(update)
        try:
            with self.db.session() as session:
                _, row = repo.record_update(
                    session,
                    incident_key=update.incident_key,
                    title=update.title,
                    status=update.status,
                    impact=update.impact,
                    message=update.message,
                    components=list(update.components),
                    at=update.at,
                    started_at=update.started_at or update.at,
                )
        except SQLAlchemyError as exc:
            # The driver's message can carry the database URL; say only what kind of error.
            log.exception("builtin status page: storing update of %s failed", update.incident_key)
            raise StatusPageError(
                f"builtin: the database refused the update ({type(exc).__name__})"
            ) from None
        base = (self.options.public_url or "").rstrip("/")
        return f"{base}/status#{update.incident_key}-{row.id}"
