"""Repository of the outbox: chat notifications that could not be delivered yet.

A notification that fails is kept here with its message as data (parts, not chat syntax) and
retried with backoff until it gets through or gives up after `MAX_ATTEMPTS`. Replicas share
the outbox: each retry is claimed by one of them (`claim`), so a late message is posted once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlmodel import Session, col, func, select

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
    due_at: datetime | None = None,
) -> OutboxRow:
    """Keep an undelivered notification: after a failed attempt (`error`, retried after
    the backoff), or behind the undelivered ones of its `thread` (due at once, delivered
    right after them). `due_at` puts off its first retry: a message queued before its first
    attempt (a digest) is attempted by whoever queued it, and retried only from then."""
    row = OutboxRow(
        kind=kind,
        payload=payload,
        attempts=1 if error else 0,
        last_error=error[:500] if error else None,
        next_attempt_at=now + backoff(1) if error else (due_at or now),
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


CLAIM_LEASE = timedelta(minutes=5)
"""How long a replica holds the notifications it claimed: past it (the replica died while
delivering), another one delivers them. Longer than a batch of posts takes."""


def claim(
    session: Session,
    now: datetime,
    limit: int = 50,
    lease: timedelta = CLAIM_LEASE,
    kind: str | None = None,
) -> list[OutboxRow]:
    """Claim what may be attempted now, in the order it happened, for this replica alone:
    every notification without a thread that is due, and for each thread the undelivered
    ones from its oldest on, when that oldest is due and nobody holds it (a later one never
    overtakes an earlier one of its thread, nor goes out from two replicas at once).

    The rows are locked while they are claimed (`FOR UPDATE` on PostgreSQL: a second
    claimer waits the few milliseconds this takes and then sees the claims, where SKIP
    LOCKED would show it a thread without its oldest; SQLite's write lock on SQLite), and
    hold `claimed_until` when the transaction commits. `kind`: only notifications of that
    kind (each kind is delivered by its own service)."""
    query = (
        select(OutboxRow)
        .where(col(OutboxRow.delivered_at).is_(None))
        .where(OutboxRow.attempts < MAX_ATTEMPTS)
    )
    if kind is not None:
        query = query.where(OutboxRow.kind == kind)
    query = query.order_by(col(OutboxRow.id)).limit(limit).with_for_update()
    out: list[OutboxRow] = []
    held: set[str] = set()
    started: set[str] = set()
    for row in session.exec(query):
        free = row.claimed_until is None or row.claimed_until <= now
        if row.thread is None:
            if row.next_attempt_at <= now and free:
                out.append(row)
            continue
        if row.thread in held:
            continue
        if row.thread not in started and (row.next_attempt_at > now or not free):
            # Its oldest waits for its backoff, or another replica is delivering the
            # thread: so does the rest.
            held.add(row.thread)
            continue
        started.add(row.thread)
        out.append(row)
    for row in out:
        row.claimed_until = now + lease
        session.add(row)
    session.flush()
    return out


def by_id(session: Session, row_id: int) -> OutboxRow | None:
    """One notification by id."""
    return session.get(OutboxRow, row_id)


def release(session: Session, row_ids: list[int]) -> None:
    """Give back claimed notifications not attempted (their thread stopped at a failure)."""
    for row_id in row_ids:
        row = session.get(OutboxRow, row_id)
        if row is not None and row.delivered_at is None:
            row.claimed_until = None
            session.add(row)


def mark(session: Session, row_id: int, now: datetime, error: str | None) -> None:
    """Record the result of a delivery attempt (`error` None: delivered)."""
    row = session.get(OutboxRow, row_id)
    if row is None:
        return
    row.claimed_until = None
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


class Backlog(NamedTuple):
    """The outbox as an operator watches it."""

    # Notifications waiting to be delivered (not given up on), and when the oldest of them
    # was queued.
    waiting: int
    oldest: datetime | None
    # Notifications given up on after `MAX_ATTEMPTS` failed attempts: nobody will see them.
    given_up: int


def backlog(session: Session) -> Backlog:
    """The undelivered notifications, waiting or given up on; one query."""
    waiting = col(OutboxRow.attempts) < MAX_ATTEMPTS
    query = select(
        func.count(col(OutboxRow.id)).filter(waiting),
        func.min(OutboxRow.created_at).filter(waiting),
        func.count(col(OutboxRow.id)).filter(col(OutboxRow.attempts) >= MAX_ATTEMPTS),
    ).where(col(OutboxRow.delivered_at).is_(None))
    count, oldest, given_up = session.exec(query).one()
    return Backlog(int(count or 0), oldest, int(given_up or 0))


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
