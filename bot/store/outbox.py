"""Repository of the outbox: chat notifications that could not be delivered yet.

A notification that fails is kept here with its message as data (parts, not chat syntax) and
retried with backoff until it gets through or gives up after `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.store.models import OutboxRow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12


def backoff(attempts: int) -> timedelta:
    """Wait before the next delivery attempt: 5 s doubling, capped at 10 min."""
    return timedelta(seconds=min(600, 5 * 2 ** max(0, attempts - 1)))


def queue(
    session: Session,
    kind: str,
    payload: dict[str, object],
    error: str | None,
    now: datetime,
    thread: str | None = None,
) -> OutboxRow:
    """Keep an undelivered notification: after a failed attempt (`error`, retried after
    the backoff), or behind the undelivered ones of its `thread` (due at once, delivered
    right after them)."""
    row = OutboxRow(
        kind=kind,
        payload=payload,
        attempts=1 if error else 0,
        last_error=error[:500] if error else None,
        next_attempt_at=now + backoff(1) if error else now,
        created_at=now,
        thread=thread,
    )
    session.add(row)
    session.flush()
    return row


def waiting(session: Session, thread: str) -> bool:
    """True while the thread has notifications not delivered yet (nor given up on)."""
    query = (
        select(OutboxRow.id)
        .where(OutboxRow.thread == thread)
        .where(col(OutboxRow.delivered_at).is_(None))
        .where(OutboxRow.attempts < MAX_ATTEMPTS)
        .limit(1)
    )
    return session.exec(query).first() is not None


def deliverable(session: Session, now: datetime, limit: int = 200) -> list[OutboxRow]:
    """What may be attempted now, in the order it happened: every notification without a
    thread that is due, and for each thread the undelivered ones from its oldest on, when
    that oldest is due (a later one never overtakes an earlier one of its thread)."""
    query = (
        select(OutboxRow)
        .where(col(OutboxRow.delivered_at).is_(None))
        .where(OutboxRow.attempts < MAX_ATTEMPTS)
        .order_by(col(OutboxRow.id))
        .limit(limit)
    )
    out: list[OutboxRow] = []
    held: set[str] = set()
    started: set[str] = set()
    for row in session.exec(query):
        if row.thread is None:
            if row.next_attempt_at <= now:
                out.append(row)
            continue
        if row.thread in held:
            continue
        if row.thread not in started and row.next_attempt_at > now:
            held.add(row.thread)  # its oldest waits for its backoff: so does the rest
            continue
        started.add(row.thread)
        out.append(row)
    return out


def mark(session: Session, row_id: int, now: datetime, error: str | None) -> None:
    """Record the result of a delivery attempt (`error` None: delivered)."""
    row = session.get(OutboxRow, row_id)
    if row is None:
        return
    if error is None:
        row.delivered_at = now
    else:
        row.attempts += 1
        row.last_error = error[:500]
        row.next_attempt_at = now + backoff(row.attempts)
        if row.attempts >= MAX_ATTEMPTS:
            log.error(
                "giving up on notification %s after %s attempts: %s", row_id, row.attempts, error
            )
    session.add(row)


def waiting_threads(session: Session, threads: Collection[str]) -> set[str]:
    """Which of `threads` have notifications not delivered yet (nor given up on), in one
    query: `waiting` for many threads at once."""
    if not threads:
        return set()
    query = (
        select(OutboxRow.thread)
        .where(col(OutboxRow.thread).in_(sorted(set(threads))))
        .where(col(OutboxRow.delivered_at).is_(None))
        .where(OutboxRow.attempts < MAX_ATTEMPTS)
        .distinct()
    )
    return {t for t in session.exec(query) if t is not None}
