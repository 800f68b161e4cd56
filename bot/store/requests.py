"""Repository of handled requests (Slack trigger ids, click keys), so each applies once."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.store.models import ProcessedRequestRow


def remember(session: Session, key: str, at: datetime) -> None:
    """Record `key` as handled; a second time raises IntegrityError when the session flushes
    (across replicas too: the key is the primary key)."""
    session.add(ProcessedRequestRow(key=key[:255], at=at))
