"""Repository of the outbox: chat notifications that could not be delivered yet.

A notification that fails is kept here with its message as data (parts, not chat syntax) and
retried with backoff until it gets through or gives up after `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot.domain.message import (
    Channel,
    Code,
    GroupMention,
    Link,
    Mention,
    Message,
    Part,
    Preformatted,
    Sign,
    Strong,
)
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


def message_data(message: Message) -> list[Any]:
    """A message as JSON for a payload: each part as a string or a one-key object."""
    out: list[Any] = []
    for part in message.parts:
        match part:
            case Sign():
                out.append({"sign": part.value})
            case str():
                out.append(part)
            case Mention(user_id=user):
                out.append({"mention": user})
            case GroupMention(group_id=group):
                out.append({"group": group})
            case Channel(channel_id=channel):
                out.append({"channel": channel})
            case Strong(text=text):
                out.append({"strong": text})
            case Code(text=text):
                out.append({"code": text})
            case Preformatted(text=text):
                out.append({"pre": text})
            case Link(url=url, label=label):
                out.append({"link": url, "label": label})
    return out


def message_of(data: object) -> Message:
    """The message a payload keeps (see `message_data`). A str is a row queued before
    messages were data: it comes back as text (its mrkdwn, if any, then shows as written)."""
    if isinstance(data, str):
        return Message(data)
    parts: list[Part] = []
    for item in data if isinstance(data, list) else []:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, dict):
            parts.append(_part_of(item))
    return Message(*parts)


def _part_of(item: dict[str, Any]) -> Part:
    if "sign" in item:
        return Sign(item["sign"])
    if "mention" in item:
        return Mention(str(item["mention"]))
    if "group" in item:
        return GroupMention(str(item["group"]))
    if "channel" in item:
        return Channel(str(item["channel"]))
    if "strong" in item:
        return Strong(str(item["strong"]))
    if "code" in item:
        return Code(str(item["code"]))
    if "pre" in item:
        return Preformatted(str(item["pre"]))
    if "link" in item:
        return Link(str(item["link"]), str(item.get("label", "")))
    return str(item)
