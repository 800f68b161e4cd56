"""Repository of handled requests (Slack trigger ids, click keys), so each applies once, and
of the work they left to do (the row is the durable record of it until it is done)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, func, select

from bot.store.models import ProcessedRequestRow


def remember(session: Session, key: str, at: datetime) -> None:
    """Record `key` as handled; a second time raises IntegrityError when the session flushes
    (across replicas too: the key is the primary key)."""
    session.add(ProcessedRequestRow(key=key[:255], at=at))


def _insert_once(session: Session, **values: Any) -> bool:
    """Insert a row unless its key exists; True when it was inserted. One statement, no
    error to recover from (across replicas too: the key is the primary key)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(ProcessedRequestRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(col(ProcessedRequestRow.key))
    )
    return session.execute(statement).first() is not None


def remember_once(session: Session, key: str, at: datetime) -> bool:
    """Record `key` as handled; True the first time, False when it already was."""
    return _insert_once(session, key=key[:255], at=at)


def take(
    session: Session,
    key: str,
    at: datetime,
    listener: str,
    payload: dict[str, Any],
    claimed_until: datetime,
    runs: int,
) -> bool:
    """Record `key` as taken with the work it asks for (`listener` runs it on `payload`),
    claimed until `claimed_until` by whoever took it; True the first time, False when the
    key was taken already (nothing is written then). One statement: the repeat check and
    the durable record are the same write."""
    return _insert_once(
        session,
        key=key[:255],
        at=at,
        listener=listener[:100],
        payload=payload,
        claimed_until=claimed_until,
        runs=runs,
    )


def finish(session: Session, keys: Collection[str]) -> None:
    """The work of `keys` is over (done, or given up on): drop its payload and its claim,
    keep the key (repeats are still recognised)."""
    if not keys:
        return
    session.execute(
        update(ProcessedRequestRow)
        .where(col(ProcessedRequestRow.key).in_(sorted(keys)))
        .values(payload=None, claimed_until=None)
    )


def renew(session: Session, keys: Collection[str], until: datetime) -> None:
    """Hold the waiting work of `keys` until `until` (its holder is alive)."""
    if not keys:
        return
    session.execute(
        update(ProcessedRequestRow)
        .where(col(ProcessedRequestRow.key).in_(sorted(keys)))
        .where(col(ProcessedRequestRow.claimed_until).is_not(None))
        .values(claimed_until=until)
    )


def _claimable(now: datetime, exclude: Collection[str]) -> list[ColumnElement[bool]]:
    """Waiting requests whose claim has run out by `now`, `exclude` aside."""
    conditions = [
        col(ProcessedRequestRow.claimed_until).is_not(None),
        col(ProcessedRequestRow.claimed_until) <= now,
    ]
    if exclude:
        conditions.append(col(ProcessedRequestRow.key).not_in(sorted(exclude)))
    return conditions


def claimable(session: Session, now: datetime, exclude: Collection[str] = ()) -> bool:
    """True when some waiting request's claim has run out by `now` (`exclude` aside)."""
    query = select(ProcessedRequestRow.key).where(*_claimable(now, exclude)).limit(1)
    return session.exec(query).first() is not None


def claim_waiting(
    session: Session,
    now: datetime,
    until: datetime,
    limit: int,
    exclude: Collection[str] = (),
) -> list[ProcessedRequestRow]:
    """Claim, until `until`, up to `limit` waiting requests nobody holds (their claim ran
    out by `now`: the replica that took them died, or left them for later), oldest first,
    counting a run for each. `exclude`: keys the caller holds itself. The rows are locked
    while claimed (`FOR UPDATE SKIP LOCKED` on PostgreSQL: two claimers take different
    rows; SQLite's write lock on SQLite), so each is claimed by one replica."""
    query = (
        select(ProcessedRequestRow)
        .where(*_claimable(now, exclude))
        .order_by(col(ProcessedRequestRow.at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.exec(query))
    for row in rows:
        row.claimed_until = until
        row.runs += 1
        session.add(row)
    session.flush()
    return rows


def waiting(session: Session) -> int:
    """How many requests have work not done yet (held or not)."""
    query = (
        select(func.count())
        .select_from(ProcessedRequestRow)
        .where(col(ProcessedRequestRow.claimed_until).is_not(None))
    )
    return int(session.exec(query).one())


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
