"""Repository of rollouts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, and_, col, or_, select

from bot.domain.rollout import ACTIVE_STATES, RolloutSnapshot, RolloutState
from bot.store.models import RolloutRow
from bot.store.types import assign


def create(
    session: Session,
    *,
    flag_key: str,
    plan_name: str,
    plan: dict[str, Any],
    snapshot: RolloutSnapshot,
    started_by: str,
    now: datetime,
    channel_id: str | None,
) -> RolloutRow:
    """Add a new rollout in its first state (the unique active flag key refuses a second
    active rollout of the same flag when the session flushes)."""
    row = RolloutRow(
        flag_key=flag_key,
        plan_name=plan_name,
        plan=plan,
        state=snapshot.state.value,
        started_by=started_by,
        started_at=now,
        step_started_at=now,
        updated_at=now,
        channel_id=channel_id,
        version=0,
    )
    apply_snapshot(row, snapshot, now)
    session.add(row)
    return row


def active_for_flag(session: Session, flag_key: str, for_update: bool = False) -> RolloutRow | None:
    """The running or paused rollout of a flag, locked when `for_update`."""
    query = select(RolloutRow).where(RolloutRow.active_flag_key == flag_key)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def latest_for_flag(session: Session, flag_key: str) -> RolloutRow | None:
    """The newest rollout of a flag, active or not."""
    query = (
        select(RolloutRow)
        .where(RolloutRow.flag_key == flag_key)
        .order_by(col(RolloutRow.id).desc())
    )
    return session.exec(query).first()


def by_id(session: Session, rollout_id: int, for_update: bool = False) -> RolloutRow | None:
    """A rollout by id."""
    query = select(RolloutRow).where(RolloutRow.id == rollout_id)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def active(session: Session) -> list[RolloutRow]:
    """Every running or paused rollout, oldest first."""
    query = (
        select(RolloutRow)
        .where(col(RolloutRow.active_flag_key).is_not(None))
        .order_by(col(RolloutRow.id))
    )
    return list(session.exec(query))


def recent(session: Session, limit: int = 20) -> list[RolloutRow]:
    """The newest rollouts, active or finished."""
    return list(session.exec(select(RolloutRow).order_by(col(RolloutRow.id).desc()).limit(limit)))


def due_ids(session: Session, now: datetime) -> list[int]:
    """Running rollouts whose current step's bake time has passed."""
    query = (
        select(RolloutRow.id)
        .where(RolloutRow.state == RolloutState.RUNNING.value)
        .where(col(RolloutRow.step_due_at).is_not(None))
        .where(col(RolloutRow.step_due_at) <= now)
        .order_by(col(RolloutRow.step_due_at))
    )
    return [i for i in session.exec(query) if i is not None]


def claim_due(
    session: Session,
    now: datetime,
    skip_locked: bool,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> list[RolloutRow]:
    """Lock, in one statement, up to `limit` running rollouts whose bake time has passed,
    most overdue first (`after`: only those after this (due time, id), the last of the
    previous batch). On PostgreSQL rows another replica holds are skipped (it is advancing
    them); on SQLite the transaction already holds the write lock."""
    due = col(RolloutRow.step_due_at)
    query = (
        select(RolloutRow)
        .where(RolloutRow.state == RolloutState.RUNNING.value)
        .where(due.is_not(None))
        .where(due <= now)
        .order_by(due, col(RolloutRow.id))
        .limit(limit)
    )
    if after is not None:
        last_due, last_id = after
        query = query.where(
            or_(due > last_due, and_(due == last_due, col(RolloutRow.id) > last_id))
        )
    query = query.with_for_update(skip_locked=True) if skip_locked else query.with_for_update()
    return list(session.exec(query))


def claim(session: Session, rollout_id: int, skip_locked: bool) -> RolloutRow | None:
    """Lock one rollout for this transaction; on PostgreSQL skip it if another replica has it."""
    query = select(RolloutRow).where(RolloutRow.id == rollout_id)
    query = query.with_for_update(skip_locked=True) if skip_locked else query.with_for_update()
    return session.exec(query).first()


def apply_snapshot(row: RolloutRow, snap: RolloutSnapshot, now: datetime) -> None:
    """Write a new state into the row and bump its version."""
    active = snap.state in ACTIVE_STATES
    assign(
        row,
        state=snap.state.value,
        step_index=snap.step_index,
        percentage=snap.percentage,
        step_started_at=snap.step_started_at,
        step_due_at=snap.step_due_at,
        paused_remaining_s=snap.paused_remaining_s,
        updated_at=now,
        version=row.version + 1,
        active_flag_key=row.flag_key if active else None,
        finished_at=row.finished_at if active else (row.finished_at or now),
    )


def completed_since(session: Session, since: datetime) -> list[RolloutRow]:
    """Rollouts that reached full production (completed) at or after `since`."""
    query = (
        select(RolloutRow)
        .where(RolloutRow.state == "completed")
        .where(col(RolloutRow.finished_at) >= since)
        .order_by(col(RolloutRow.id))
    )
    return list(session.exec(query))


def active_and_recent(session: Session, recent_limit: int) -> list[RolloutRow]:
    """Every active rollout and the `recent_limit` newest ones (finished or not), newest
    first, in one query."""
    newest = select(RolloutRow.id).order_by(col(RolloutRow.id).desc()).limit(recent_limit)
    query = (
        select(RolloutRow)
        .where(
            or_(
                col(RolloutRow.active_flag_key).is_not(None),
                col(RolloutRow.id).in_(newest.scalar_subquery()),
            )
        )
        .order_by(col(RolloutRow.id).desc())
    )
    return list(session.exec(query))


def active_percentages(session: Session) -> list[tuple[str, int]]:
    """(flag, percentage) of every running or paused rollout, in one query."""
    query = (
        select(RolloutRow.flag_key, RolloutRow.percentage)
        .where(col(RolloutRow.active_flag_key).is_not(None))
        .order_by(col(RolloutRow.id))
    )
    return [(flag, percentage) for flag, percentage in session.exec(query)]
