"""Repository of digests: their slots (claimed once) and the batched reads a digest is
built from.

A digest covers every active rollout and open incident, so its reads are batched: each
returns rows for *all* of them in one statement (`IN` lists, no query per rollout), and
building a digest issues the same number of statements at 10 rollouts as at 1,000.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from bot.domain.rollout import RolloutState
from bot.store.digest_models import DigestSlotRow
from bot.store.incident_models import IncidentRow, PostmortemRow
from bot.store.models import RolloutRow
from bot.store.rollback_models import ConditionRow
from bot.store.signoff_models import ChecklistResultRow, SignatureRow, SignoffRequestRow

POSTED = "posted"
BASELINE = "baseline"


# -- slots --------------------------------------------------------------------------------


def latest_slots(session: Session, names: Collection[str]) -> dict[str, datetime]:
    """The newest recorded slot (posted or baseline) of each named digest that has one."""
    if not names:
        return {}
    query = (
        select(DigestSlotRow.digest, func.max(DigestSlotRow.slot_at))
        .where(col(DigestSlotRow.digest).in_(list(names)))
        .group_by(col(DigestSlotRow.digest))
    )
    found: dict[str, datetime] = {}
    for name, latest in session.exec(query):
        if latest is not None:
            found[name] = _aware(latest)
    return found


def _aware(value: datetime | str) -> datetime:
    # An aggregate skips the column's type: SQLite hands it back as text, both naive; the
    # column keeps UTC, so make it aware UTC like every other datetime the store returns.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def claim_slot(
    session: Session,
    digest: str,
    slot_at: datetime,
    now: datetime,
    *,
    kind: str = POSTED,
    late: bool = False,
    channel: str | None = None,
) -> bool:
    """Record a slot; True when this call recorded it, False when it already was (another
    replica, or an earlier run, got there first). The database decides: the insert does
    nothing on the unique (digest, slot) pair, so two replicas cannot both claim it."""
    values = {
        "digest": digest,
        "slot_at": slot_at,
        "kind": kind,
        "claimed_at": now,
        "late": late,
        "channel": channel,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(DigestSlotRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["digest", "slot_at"])
        .returning(col(DigestSlotRow.id))
    )
    return session.execute(statement).first() is not None


def posted_counts(session: Session) -> dict[str, int]:
    """How many slots each digest has posted (baselines not counted), for rollbot's own
    metrics (`rollbot_digests_posted_total{digest}`)."""
    query = (
        select(DigestSlotRow.digest, func.count())
        .where(DigestSlotRow.kind == POSTED)
        .group_by(col(DigestSlotRow.digest))
    )
    return {name: int(count) for name, count in session.exec(query)}


def posted_slots(session: Session, digest: str) -> list[DigestSlotRow]:
    """The posted slots of one digest, oldest first."""
    query = (
        select(DigestSlotRow)
        .where(DigestSlotRow.digest == digest)
        .where(DigestSlotRow.kind == POSTED)
        .order_by(col(DigestSlotRow.slot_at))
    )
    return list(session.exec(query))


# -- what a digest is built from ----------------------------------------------------------


@dataclass(frozen=True)
class OpenIncident:
    """What a digest shows of an open incident."""

    key: str
    title: str
    severity: str
    status: str
    declared_at: datetime
    commander: str | None
    channel_id: str | None
    last_update_at: datetime | None


@dataclass(frozen=True)
class UnfinishedPostmortem:
    """A post-mortem not marked done, with its incident."""

    incident_key: str
    title: str
    due_at: datetime
    channel_id: str | None


@dataclass(frozen=True)
class DigestRows:
    """Every row a digest is built from, each kind read in one statement."""

    active: list[RolloutRow]
    completed: list[RolloutRow]
    conditions: list[ConditionRow]
    signatures: list[SignatureRow]
    requests: list[SignoffRequestRow]
    results: list[ChecklistResultRow]
    incidents: list[OpenIncident]
    postmortems: list[UnfinishedPostmortem]


def digest_rows(
    session: Session, completed_since: datetime, postmortems_due_before: datetime
) -> DigestRows:
    """Active rollouts; rollouts completed since `completed_since` (their post-migration
    tasks may be due); for all of those their conditions, signatures, open sign-off requests
    and checklist results; open incidents; and unfinished post-mortems due before
    `postmortems_due_before`. Eight statements, however many rows."""
    active = list(
        session.exec(
            select(RolloutRow)
            .where(col(RolloutRow.active_flag_key).is_not(None))
            .order_by(col(RolloutRow.id))
        )
    )
    completed = list(
        session.exec(
            select(RolloutRow)
            .where(RolloutRow.state == RolloutState.COMPLETED.value)
            .where(col(RolloutRow.finished_at) >= completed_since)
            .order_by(col(RolloutRow.id))
        )
    )
    active_ids = [r.id for r in active if r.id is not None]
    all_ids = active_ids + [r.id for r in completed if r.id is not None]
    conditions = _in(session, ConditionRow, ConditionRow.rollout_id, active_ids)
    signatures = _in(session, SignatureRow, SignatureRow.rollout_id, active_ids)
    requests = list(
        session.exec(
            select(SignoffRequestRow)
            .where(col(SignoffRequestRow.rollout_id).in_(active_ids))
            .where(col(SignoffRequestRow.closed_at).is_(None))
            .order_by(col(SignoffRequestRow.id))
        )
    )
    results = _in(session, ChecklistResultRow, ChecklistResultRow.rollout_id, all_ids)
    # Incidents and post-mortems are read as plain columns, not ORM rows: there can be
    # thousands, and building an ORM object for each is most of a digest's time.
    incidents = [
        OpenIncident(*r)
        for r in session.execute(
            sa_select(
                col(IncidentRow.key),
                col(IncidentRow.title),
                col(IncidentRow.severity),
                col(IncidentRow.status),
                col(IncidentRow.declared_at),
                col(IncidentRow.commander),
                col(IncidentRow.channel_id),
                col(IncidentRow.last_update_at),
            )
            .where(col(IncidentRow.state) == "active")
            .order_by(col(IncidentRow.declared_at))
        )
    ]
    postmortems = [
        UnfinishedPostmortem(*r)
        for r in session.execute(
            sa_select(
                col(IncidentRow.key),
                col(IncidentRow.title),
                col(PostmortemRow.due_at),
                col(IncidentRow.channel_id),
            )
            .join(IncidentRow, col(IncidentRow.id) == col(PostmortemRow.incident_id))
            .where(col(PostmortemRow.done_at).is_(None))
            .where(col(PostmortemRow.due_at) <= postmortems_due_before)
            .order_by(col(PostmortemRow.due_at))
        )
    ]
    return DigestRows(
        active, completed, conditions, signatures, requests, results, incidents, postmortems
    )


_Row = TypeVar("_Row", ConditionRow, SignatureRow, SignoffRequestRow, ChecklistResultRow)


def _in(session: Session, table: type[_Row], column: Any, ids: list[int]) -> list[_Row]:
    """Rows of `table` whose `column` is one of `ids`, in one statement (even when empty, so
    the count of statements does not depend on the data)."""
    query = select(table).where(col(column).in_(ids)).order_by(col(table.id))
    return list(session.exec(query))
