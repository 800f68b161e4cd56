"""Repository of the built-in flag store."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from bot.domain.flag import FlagDocument
from bot.store.models import FlagRow, FlagStateRow
from bot.store.types import assign


def to_document(row: FlagRow) -> FlagDocument:
    """The public flag document of a stored flag."""
    return FlagDocument(
        enabled=row.enabled,
        rollout_percentage=row.rollout_percentage,
        user_segments=list(row.user_segments),
        fallback_enabled=row.fallback_enabled,
        monitoring_enabled=row.monitoring_enabled,
        segment_rollouts=dict(row.segment_rollouts or {}),
        variants=list(row.variants or []),
    )


def get(session: Session, key: str, for_update: bool = False) -> FlagRow | None:
    """The flag row, locked for the rest of the transaction when `for_update`."""
    query = select(FlagRow).where(FlagRow.key == key)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def get_many(
    session: Session, keys: Collection[str], for_update: bool = False
) -> dict[str, FlagRow]:
    """Many flag rows by key in one statement, locked when `for_update`."""
    if not keys:
        return {}
    query = select(FlagRow).where(col(FlagRow.key).in_(sorted(set(keys))))
    if for_update:
        query = query.with_for_update()
    return {row.key: row for row in session.exec(query)}


def put(
    session: Session,
    key: str,
    doc: FlagDocument,
    now: datetime,
    row: FlagRow | None = None,
    bump: bool = True,
) -> FlagRow:
    """Create or overwrite a flag with `doc` (`row`: the flag's row, already locked). The
    flag state version moves on unless `bump` is False (a batch bumps it once itself)."""
    row = row or get(session, key, for_update=True)
    if row is None:
        row = FlagRow(key=key, created_at=now, updated_at=now, version=0)
    assign(
        row,
        enabled=doc.enabled,
        rollout_percentage=doc.rollout_percentage,
        user_segments=list(doc.user_segments),
        fallback_enabled=doc.fallback_enabled,
        monitoring_enabled=doc.monitoring_enabled,
        segment_rollouts=dict(doc.segment_rollouts),
        variants=[v.model_dump() for v in doc.variants],
        updated_at=now,
        version=row.version + 1,
    )
    session.add(row)
    _keep_preloaded(session, key, row)
    if bump:
        bump_state(session)
    return row


def bump_state(session: Session) -> None:
    """Move the flag state version on, in the caller's transaction (so replicas reload
    exactly when the change commits)."""
    session.execute(
        update(FlagStateRow)
        .where(col(FlagStateRow.id) == 1)
        .values(version=col(FlagStateRow.version) + 1)
    )


def state_version(session: Session) -> int:
    """The flag state version: one primary-key read, cheap enough to poll."""
    return int(session.exec(select(FlagStateRow.version).where(FlagStateRow.id == 1)).one())


def all_documents(session: Session) -> dict[str, FlagDocument]:
    """Every flag's document, by key."""
    return {row.key: to_document(row) for row in session.exec(select(FlagRow))}


# Flags inserted per statement by `ensure_many` (11 bound parameters each: 11,000 stays
# under SQLite's 32,766 and PostgreSQL's 65,535).
ENSURE_SLICE = 1000


def ensure(session: Session, key: str, now: datetime) -> bool:
    """Insert the flag with the document's defaults unless it exists; True if inserted."""
    return key in ensure_many(session, [key], now)


def ensure_many(session: Session, keys: Collection[str], now: datetime) -> set[str]:
    """Insert, in one statement, every flag of `keys` that does not exist yet (with the
    document's defaults); the keys inserted."""
    if not keys:
        return set()
    defaults = FlagDocument()
    values = [
        {
            "key": key,
            "enabled": defaults.enabled,
            "rollout_percentage": defaults.rollout_percentage,
            "user_segments": [],
            "fallback_enabled": defaults.fallback_enabled,
            "monitoring_enabled": defaults.monitoring_enabled,
            "segment_rollouts": {},
            "variants": [],
            "created_at": now,
            "updated_at": now,
            "version": 0,
        }
        for key in sorted(set(keys))
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    inserted: set[str] = set()
    # In slices, so a statement stays under the databases' limits on bound parameters.
    for start in range(0, len(values), ENSURE_SLICE):
        # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
        statement = (
            insert(FlagRow)
            .values(values[start : start + ENSURE_SLICE])
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(col(FlagRow.key))
        )
        inserted |= {str(key) for (key,) in session.execute(statement)}
    return inserted


def delete(session: Session, key: str) -> FlagRow | None:
    """Remove the flag; the removed row (None when there was none)."""
    row = get(session, key, for_update=True)
    if row is not None:
        session.delete(row)
        _keep_preloaded(session, key, None)
        bump_state(session)  # replicas reload the flags in memory
    return row


_PRELOADED = "flags.preloaded"


def preload(session: Session, keys: Collection[str]) -> None:
    """Read many flags in one query for the rest of the session (a list of cards, a tick's
    batch): `cached` answers from it until this session writes a flag."""
    rows = get_many(session, keys)
    session.info.setdefault(_PRELOADED, {}).update({k: rows.get(k) for k in set(keys)})


def cached(session: Session, key: str) -> FlagRow | None:
    """The flag's row, from what `preload` read in this session, else read now."""
    preloaded: dict[str, FlagRow | None] = session.info.get(_PRELOADED, {})
    if key in preloaded:
        return preloaded[key]
    return get(session, key)


def _keep_preloaded(session: Session, key: str, row: FlagRow | None) -> None:
    """A flag written in this session: what `preload` read of it is the written row now."""
    preloaded: dict[str, FlagRow | None] | None = session.info.get(_PRELOADED)
    if preloaded is not None and key in preloaded:
        preloaded[key] = row
