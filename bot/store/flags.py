"""Repository of the built-in flag store."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot.domain.flag import FlagDocument
from bot.store.models import FlagRow


def to_document(row: FlagRow) -> FlagDocument:
    """The public flag document of a stored flag."""
    return FlagDocument(
        enabled=row.enabled,
        rollout_percentage=row.rollout_percentage,
        user_segments=list(row.user_segments),
        fallback_enabled=row.fallback_enabled,
        monitoring_enabled=row.monitoring_enabled,
    )


def get(session: Session, key: str, for_update: bool = False) -> FlagRow | None:
    """The flag row, locked for the rest of the transaction when `for_update`."""
    query = select(FlagRow).where(FlagRow.key == key)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def put(session: Session, key: str, doc: FlagDocument, now: datetime) -> FlagRow:
    """Create or overwrite a flag with `doc`."""
    row = get(session, key, for_update=True)
    if row is None:
        row = FlagRow(key=key, created_at=now, updated_at=now, version=0)
    row.enabled = doc.enabled
    row.rollout_percentage = doc.rollout_percentage
    row.user_segments = list(doc.user_segments)
    row.fallback_enabled = doc.fallback_enabled
    row.monitoring_enabled = doc.monitoring_enabled
    row.updated_at = now
    row.version += 1
    session.add(row)
    return row


def all_keys(session: Session) -> list[str]:
    """Every flag key, sorted."""
    return list(session.exec(select(FlagRow.key).order_by(col(FlagRow.key))))
