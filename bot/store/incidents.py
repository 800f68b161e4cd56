"""Repository of incidents, their timelines, status updates, post-mortems and due work."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from bot.domain.incident import EventKind, TimelineEvent
from bot.domain.message import Message, as_message
from bot.store.incident_models import (
    IncidentEventRow,
    IncidentJobRow,
    IncidentRow,
    IncidentStatusUpdateRow,
    PostmortemRow,
)
from bot.store.messages import legacy_message, message_data, message_of

ACTIVE = "active"
RESOLVED = "resolved"


def by_id(session: Session, incident_id: int, for_update: bool = False) -> IncidentRow | None:
    """An incident by id, locked for this transaction when `for_update`."""
    query = select(IncidentRow).where(IncidentRow.id == incident_id)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def by_channel(session: Session, channel_id: str) -> IncidentRow | None:
    """The incident whose dedicated channel this is."""
    query = select(IncidentRow).where(IncidentRow.channel_id == channel_id)
    return session.exec(query.order_by(col(IncidentRow.id).desc())).first()


def by_source(
    session: Session, source: str, ref: str, active_only: bool = True
) -> IncidentRow | None:
    """The newest incident declared from this alert, rollout or PagerDuty incident."""
    query = select(IncidentRow).where(IncidentRow.source == source, IncidentRow.source_ref == ref)
    if active_only:
        query = query.where(IncidentRow.state == ACTIVE)
    return session.exec(query.order_by(col(IncidentRow.id).desc())).first()


def add_incident(session: Session, **fields: Any) -> IncidentRow:
    """A new incident (its id assigned); `fields` are IncidentRow's columns."""
    row = IncidentRow(**fields)
    session.add(row)
    session.flush()
    return row


def save(session: Session, row: IncidentRow | IncidentStatusUpdateRow | PostmortemRow) -> None:
    """Write back the changes made to a row this repository returned."""
    session.add(row)


def listing(session: Session, limit: int = 20) -> list[IncidentRow]:
    """Active incidents first, then the newest resolved ones."""
    active = session.exec(
        select(IncidentRow).where(IncidentRow.state == ACTIVE).order_by(col(IncidentRow.id))
    ).all()
    recent = session.exec(
        select(IncidentRow)
        .where(IncidentRow.state != ACTIVE)
        .order_by(col(IncidentRow.id).desc())
        .limit(limit)
    ).all()
    return [*active, *recent]


def open_count(session: Session) -> int:
    """How many incidents are open (declared, not resolved); one query."""
    query = select(func.count(col(IncidentRow.id))).where(IncidentRow.state == ACTIVE)
    return int(session.exec(query).one() or 0)


def open_incidents(session: Session, limit: int = 100) -> list[IncidentRow]:
    """Open incidents, the most severe first, then the oldest (at most `limit`)."""
    query = (
        select(IncidentRow)
        .where(IncidentRow.state == ACTIVE)
        .order_by(col(IncidentRow.severity), col(IncidentRow.id))
        .limit(limit)
    )
    return list(session.exec(query))


# The columns a TimelineEvent is read from, in `_event`'s order (sa_select: SQLModel's
# select takes at most four columns).
_EVENT_COLUMNS = (
    col(IncidentEventRow.at),
    col(IncidentEventRow.kind),
    col(IncidentEventRow.text),
    col(IncidentEventRow.actor),
    col(IncidentEventRow.permalink),
    col(IncidentEventRow.parts),
)
_KINDS = {k.value: k for k in EventKind}


def _event(
    at: datetime, kind: str, text: str, actor: str, permalink: str | None, parts: Any
) -> TimelineEvent:
    """A timeline entry from its `_EVENT_COLUMNS` (entries older than `parts` have text only)."""
    return TimelineEvent(
        at,
        _KINDS[kind],
        message_of(parts) if parts is not None else legacy_message(text),
        actor,
        permalink,
    )


def latest_events_of(
    session: Session, incident_ids: list[int], per_incident: int
) -> dict[int, list[TimelineEvent]]:
    """The newest `per_incident` timeline entries of each incident, oldest first within
    each: one query, however many incidents (a window function, on SQLite and PostgreSQL)."""
    if not incident_ids:
        return {}
    rank = (
        func.row_number()
        .over(
            partition_by=col(IncidentEventRow.incident_id),
            order_by=(col(IncidentEventRow.at).desc(), col(IncidentEventRow.id).desc()),
        )
        .label("rank")
    )
    ranked = (
        sa_select(
            col(IncidentEventRow.id).label("id"),
            col(IncidentEventRow.incident_id).label("incident_id"),
            rank,
        )
        .where(col(IncidentEventRow.incident_id).in_(incident_ids))
        .subquery()
    )
    query = (
        sa_select(col(IncidentEventRow.incident_id), *_EVENT_COLUMNS)
        .join(ranked, ranked.c.id == col(IncidentEventRow.id))
        .where(ranked.c.rank <= per_incident)
        .order_by(
            col(IncidentEventRow.incident_id), col(IncidentEventRow.at), col(IncidentEventRow.id)
        )
    )
    found: dict[int, list[TimelineEvent]] = {i: [] for i in incident_ids}
    for incident_id, *event in session.execute(query):
        found[incident_id].append(_event(*event))
    return found


def latest_updates_of(
    session: Session, incident_ids: list[int]
) -> dict[int, IncidentStatusUpdateRow]:
    """Each incident's newest status update (draft, queued, published or failed), in one
    query."""
    if not incident_ids:
        return {}
    newest = (
        sa_select(func.max(col(IncidentStatusUpdateRow.id)))
        .where(col(IncidentStatusUpdateRow.incident_id).in_(incident_ids))
        .where(col(IncidentStatusUpdateRow.state) != "superseded")
        .group_by(col(IncidentStatusUpdateRow.incident_id))
    )
    query = select(IncidentStatusUpdateRow).where(col(IncidentStatusUpdateRow.id).in_(newest))
    return {row.incident_id: row for row in session.exec(query)}


# -- timeline --------------------------------------------------------------------------


def add_event(
    session: Session,
    incident_id: int,
    at: datetime,
    kind: EventKind,
    text: str | Message,
    actor: str = "rollbot",
    permalink: str | None = None,
    dedupe: str | None = None,
) -> bool:
    """Add a timeline entry; False when an entry with the same `dedupe` key exists."""
    message = as_message(text)
    row = IncidentEventRow(
        incident_id=incident_id,
        at=at,
        kind=kind.value,
        text=message.plain(),
        parts=message_data(message),
        actor=actor[:100],
        permalink=permalink,
        dedupe=dedupe[:255] if dedupe else None,
    )
    if dedupe is None:
        session.add(row)
        return True
    try:
        # A savepoint, so a duplicate does not spoil the caller's transaction.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


def timeline(session: Session, incident_id: int) -> list[TimelineEvent]:
    """The incident's timeline, oldest first.

    Columns, not ORM objects: a long timeline (a post-mortem of 10,000 entries) reads
    several times faster without building and tracking an instance per row.
    """
    query = (
        sa_select(*_EVENT_COLUMNS)
        .where(col(IncidentEventRow.incident_id) == incident_id)
        .order_by(col(IncidentEventRow.at), col(IncidentEventRow.id))
    )
    return [_event(*event) for event in session.execute(query)]


# -- status updates --------------------------------------------------------------------


def status_update(
    session: Session, update_id: int, for_update: bool = False
) -> IncidentStatusUpdateRow | None:
    """One status update, locked for this transaction when `for_update`."""
    query = select(IncidentStatusUpdateRow).where(IncidentStatusUpdateRow.id == update_id)
    if for_update:
        # Re-read under the lock, even when this session already holds the row.
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.exec(query).first()


def add_status_update(session: Session, **fields: Any) -> IncidentStatusUpdateRow:
    """A new status update (its id assigned); `fields` are IncidentStatusUpdateRow's columns."""
    row = IncidentStatusUpdateRow(**fields)
    session.add(row)
    session.flush()
    return row


def updates_of(session: Session, incident_id: int) -> list[IncidentStatusUpdateRow]:
    """Every status update of an incident, oldest first."""
    query = (
        select(IncidentStatusUpdateRow)
        .where(IncidentStatusUpdateRow.incident_id == incident_id)
        .order_by(col(IncidentStatusUpdateRow.id))
    )
    return list(session.exec(query))


def supersede_pending(session: Session, incident_id: int) -> list[IncidentStatusUpdateRow]:
    """Mark unpublished drafts and queued updates superseded by a newer one; return them."""
    superseded = []
    for row in updates_of(session, incident_id):
        if row.state in ("draft", "queued"):
            row.state = "superseded"
            row.next_attempt_at = None
            session.add(row)
            superseded.append(row)
    return superseded


def due_update_ids(session: Session, now: datetime) -> list[int]:
    """Status updates whose next attempt (or automatic publication) is due."""
    query = (
        select(IncidentStatusUpdateRow.id)
        .where(col(IncidentStatusUpdateRow.state).in_(("draft", "queued")))
        .where(col(IncidentStatusUpdateRow.next_attempt_at).is_not(None))
        .where(col(IncidentStatusUpdateRow.next_attempt_at) <= now)
        .where(
            or_(
                col(IncidentStatusUpdateRow.lease_until).is_(None),
                col(IncidentStatusUpdateRow.lease_until) <= now,
            )
        )
        .order_by(col(IncidentStatusUpdateRow.next_attempt_at))
    )
    return [i for i in session.exec(query) if i is not None]


def claim_update(
    session: Session, update_id: int, now: datetime, lease: timedelta, skip_locked: bool
) -> IncidentStatusUpdateRow | None:
    """Lease one due status update for this worker, or None when someone else has it.

    The row lock (SKIP LOCKED on PostgreSQL, the write lock on SQLite) makes the check and
    the lease one step; the lease then covers the provider call made outside the lock.
    """
    query = select(IncidentStatusUpdateRow).where(IncidentStatusUpdateRow.id == update_id)
    query = query.with_for_update(skip_locked=True) if skip_locked else query.with_for_update()
    row = session.exec(query).first()
    if row is None or row.state not in ("draft", "queued"):
        return None
    if row.lease_until is not None and row.lease_until > now:
        return None
    row.lease_until = now + lease
    session.add(row)
    return row


# -- due work --------------------------------------------------------------------------


def schedule(session: Session, incident_id: int, kind: str, due_at: datetime) -> None:
    """Add due work unless the same piece is already scheduled."""
    exists = session.exec(
        select(IncidentJobRow.id).where(
            IncidentJobRow.incident_id == incident_id,
            IncidentJobRow.kind == kind,
            IncidentJobRow.due_at == due_at,
        )
    ).first()
    if exists is None:
        session.add(IncidentJobRow(incident_id=incident_id, kind=kind, due_at=due_at))


def cancel(session: Session, incident_id: int, kind: str, now: datetime) -> None:
    """Mark every pending job of this kind done (e.g. the nudge after a new update)."""
    query = select(IncidentJobRow).where(
        IncidentJobRow.incident_id == incident_id,
        IncidentJobRow.kind == kind,
        col(IncidentJobRow.done_at).is_(None),
    )
    for job in session.exec(query):
        job.done_at = now
        job.last_error = "cancelled"
        session.add(job)


def due_job_ids(session: Session, now: datetime) -> list[int]:
    """Jobs whose time has come and that nobody holds."""
    query = (
        select(IncidentJobRow.id)
        .where(col(IncidentJobRow.done_at).is_(None))
        .where(IncidentJobRow.due_at <= now)
        .where(
            or_(col(IncidentJobRow.lease_until).is_(None), col(IncidentJobRow.lease_until) <= now)
        )
        .order_by(col(IncidentJobRow.due_at))
    )
    return [i for i in session.exec(query) if i is not None]


def claim_job(
    session: Session, job_id: int, now: datetime, lease: timedelta, skip_locked: bool
) -> IncidentJobRow | None:
    """Lease one due job (see `claim_update`)."""
    query = select(IncidentJobRow).where(IncidentJobRow.id == job_id)
    query = query.with_for_update(skip_locked=True) if skip_locked else query.with_for_update()
    job = session.exec(query).first()
    if job is None or job.done_at is not None:
        return None
    if job.lease_until is not None and job.lease_until > now:
        return None
    job.lease_until = now + lease
    job.attempts += 1
    session.add(job)
    return job


def job(session: Session, job_id: int) -> IncidentJobRow | None:
    """One job by id."""
    return session.get(IncidentJobRow, job_id)


def save_job(session: Session, job: IncidentJobRow) -> None:
    """Write back the changes made to a job this repository returned."""
    session.add(job)


def pending_jobs(session: Session, incident_id: int) -> list[IncidentJobRow]:
    """Jobs of an incident not done yet, soonest first."""
    query = (
        select(IncidentJobRow)
        .where(IncidentJobRow.incident_id == incident_id, col(IncidentJobRow.done_at).is_(None))
        .order_by(col(IncidentJobRow.due_at))
    )
    return list(session.exec(query))


# -- post-mortems ----------------------------------------------------------------------


def postmortem(session: Session, incident_id: int) -> PostmortemRow | None:
    """The post-mortem of an incident."""
    query = select(PostmortemRow).where(PostmortemRow.incident_id == incident_id)
    return session.exec(query).first()


def add_postmortem(
    session: Session, incident_id: int, markdown: str, rendered_at: datetime, due_at: datetime
) -> PostmortemRow:
    """The first post-mortem draft of an incident."""
    row = PostmortemRow(
        incident_id=incident_id, markdown=markdown, rendered_at=rendered_at, due_at=due_at
    )
    session.add(row)
    return row


def of_rollout(session: Session, rollout_id: int) -> list[IncidentRow]:
    """The incidents linked to one rollout (declared by its rollbacks), oldest first."""
    query = (
        select(IncidentRow)
        .where(IncidentRow.rollout_id == rollout_id)
        .order_by(col(IncidentRow.id))
    )
    return list(session.exec(query))
