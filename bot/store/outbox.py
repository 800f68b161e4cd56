"""Repository of the outbox: chat notifications that could not be delivered yet.

A notification that fails is kept here with its message as data (parts, not chat syntax) and
retried with backoff until it gets through or gives up after `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.store.models import OutboxRow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12


def backoff(attempts: int) -> timedelta:
    """Wait before the next delivery attempt: 5 s doubling, capped at 10 min."""
    return timedelta(seconds=min(600, 5 * 2 ** max(0, attempts - 1)))


def queue(
    session: Session, kind: str, payload: dict[str, object], error: str, now: datetime
) -> OutboxRow:
    """Keep an undelivered notification for a later attempt."""
    row = OutboxRow(
        kind=kind,
        payload=payload,
        attempts=1,
        last_error=error[:500],
        next_attempt_at=now + backoff(1),
        created_at=now,
    )
    session.add(row)
    return row


def due(session: Session, now: datetime, limit: int = 50) -> list[OutboxRow]:
    """Undelivered notifications whose next attempt is due, oldest first."""
    query = (
        select(OutboxRow)
        .where(col(OutboxRow.delivered_at).is_(None))
        .where(OutboxRow.next_attempt_at <= now)
        .where(OutboxRow.attempts < MAX_ATTEMPTS)
        .order_by(col(OutboxRow.id))
        .limit(limit)
    )
    return list(session.exec(query))


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
