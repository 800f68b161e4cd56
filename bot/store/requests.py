"""Repository of handled requests (Slack trigger ids, click keys), so each applies once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, func, select

from bot.store.models import ProcessedRequestRow


def remember(session: Session, key: str, at: datetime) -> None:
    """Record `key` as handled; a second time raises IntegrityError when the session flushes
    (across replicas too: the key is the primary key)."""
    session.add(ProcessedRequestRow(key=key[:255], at=at))


def remember_once(session: Session, key: str, at: datetime) -> bool:
    """Record `key` as handled; True the first time, False when it already was (across
    replicas too: the key is the primary key). One statement, no error to recover from."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(ProcessedRequestRow)
        .values(key=key[:255], at=at)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(col(ProcessedRequestRow.key))
    )
    return session.execute(statement).first() is not None


def forget_older(session: Session, before: datetime, limit: int) -> int:
    """Delete up to `limit` of the requests handled before `before`, oldest first; how many
    were deleted."""
    oldest = (
        select(ProcessedRequestRow.key)
        .where(col(ProcessedRequestRow.at) < before)
        .order_by(col(ProcessedRequestRow.at))
        .limit(limit)
    )
    keys = list(session.exec(oldest))
    if not keys:
        return 0
    session.execute(delete(ProcessedRequestRow).where(col(ProcessedRequestRow.key).in_(keys)))
    return len(keys)


def count(session: Session) -> int:
    """How many handled requests are remembered."""
    return int(session.exec(select(func.count()).select_from(ProcessedRequestRow)).one())
