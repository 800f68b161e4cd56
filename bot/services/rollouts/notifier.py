"""How services tell people what happened, without knowing which chat they use.

A chat adapter implements `RolloutNotifier`. Delivery failures never undo a state change:
the notification goes to the outbox and is retried with backoff until it gets through.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlmodel import col, select

from bot.services.rollouts.views import RolloutView
from bot.store.database import Database
from bot.store.models import OutboxRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CardLocation:
    """Where a rollout's card lives in the chat."""

    channel_id: str
    message_ts: str


class RolloutNotifier(Protocol):
    """Shows rollout cards and posts rollout events in a chat."""

    def show_card(self, view: RolloutView) -> CardLocation | None:
        """Post the card (first time) or edit it in place; return where it is."""
        ...

    def post_event(self, view: RolloutView, text: str) -> None:
        """Post one event in the card's thread."""
        ...


class NullNotifier:
    """For `rollbot serve` without a chat: state changes are only in the database and logs."""

    def show_card(self, view: RolloutView) -> CardLocation | None:
        """Nothing to show."""
        return None

    def post_event(self, view: RolloutView, text: str) -> None:
        """Log the event."""
        log.info("rollout %s (%s): %s", view.id, view.flag_key, text)


MAX_ATTEMPTS = 12


def backoff(attempts: int) -> timedelta:
    """Wait before the next delivery attempt: 5 s doubling, capped at 10 min."""
    return timedelta(seconds=min(600, 5 * 2 ** max(0, attempts - 1)))


def queue(db: Database, kind: str, payload: dict[str, object], error: str, now: datetime) -> None:
    """Keep an undelivered notification for a later attempt."""
    with db.session() as session:
        session.add(
            OutboxRow(
                kind=kind,
                payload=payload,
                attempts=1,
                last_error=error[:500],
                next_attempt_at=now + backoff(1),
                created_at=now,
            )
        )


def due_outbox(db: Database, now: datetime, limit: int = 50) -> list[OutboxRow]:
    """Undelivered notifications whose next attempt is due."""
    with db.session() as session:
        query = (
            select(OutboxRow)
            .where(col(OutboxRow.delivered_at).is_(None))
            .where(OutboxRow.next_attempt_at <= now)
            .where(OutboxRow.attempts < MAX_ATTEMPTS)
            .order_by(col(OutboxRow.id))
            .limit(limit)
        )
        return list(session.exec(query))


def mark_outbox(db: Database, row_id: int, now: datetime, error: str | None) -> None:
    """Record the result of a delivery attempt."""
    with db.session() as session:
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
                    "giving up on notification %s after %s attempts: %s",
                    row_id,
                    row.attempts,
                    error,
                )
        session.add(row)
