"""The audit trail: every state change with actor, time, before, after and door."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_
from sqlmodel import Session, col, select

from bot.domain.actor import Actor
from bot.store.models import AuditRow


def record(
    session: Session,
    *,
    actor: Actor,
    at: datetime,
    action: str,
    subject_type: str,
    subject_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str | None = None,
) -> AuditRow:
    """Add one audit event to the session (it commits with the change it describes)."""
    row = AuditRow(
        at=at,
        actor=actor.id,
        via=actor.via.value,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        before=before,
        after=after,
        detail=detail,
    )
    session.add(row)
    return row


@dataclass(frozen=True)
class Event:
    """One audit event to record with others (`record_many`)."""

    actor: Actor
    at: datetime
    action: str
    subject_type: str
    subject_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    detail: str | None = None


def record_many(session: Session, events: Sequence[Event]) -> None:
    """Add many audit events in one statement (they commit with the changes they
    describe): a scheduler tick advancing many rollouts at once."""
    if not events:
        return
    session.flush()  # rows added before these stay before them in the trail
    # Core's executemany: one statement compiled once, whatever the number of events.
    session.connection().execute(
        insert(AuditRow),
        [
            {
                "at": e.at,
                "actor": e.actor.id,
                "via": e.actor.via.value,
                "action": e.action,
                "subject_type": e.subject_type,
                "subject_id": e.subject_id,
                "before": e.before,
                "after": e.after,
                "detail": e.detail,
            }
            for e in events
        ],
    )


def events(
    session: Session, subject_id: str | None = None, action: str | None = None
) -> list[AuditRow]:
    """Audit events, oldest first, optionally for one subject or one kind of action."""
    query = select(AuditRow)
    if subject_id is not None:
        query = query.where(AuditRow.subject_id == subject_id)
    if action is not None:
        query = query.where(AuditRow.action == action)
    return list(session.exec(query.order_by(col(AuditRow.id))))


def events_between(
    session: Session, subject_id: str, since: datetime, until: datetime | None = None
) -> list[AuditRow]:
    """One subject's audit events from `since` (to `until`), oldest first."""
    query = select(AuditRow).where(AuditRow.subject_id == subject_id)
    query = query.where(col(AuditRow.at) >= since)
    if until is not None:
        query = query.where(col(AuditRow.at) <= until)
    return list(session.exec(query.order_by(col(AuditRow.id))))


def rollout_history(
    session: Session, flag_keys: list[str], since: datetime
) -> dict[str, list[AuditRow]]:
    """The rollout changes of these flags from `since` on (`rollout.*` actions: started,
    advanced, percentage set, paused, resumed; and `rollback.started`, which turned the flag
    off), oldest first per flag: one query, however many flags."""
    if not flag_keys:
        return {}
    query = (
        select(AuditRow)
        .where(AuditRow.subject_type == "rollout")
        .where(col(AuditRow.subject_id).in_(flag_keys))
        .where(
            or_(
                col(AuditRow.action).startswith("rollout."),
                col(AuditRow.action) == "rollback.started",
            )
        )
        .where(col(AuditRow.at) >= since)
        .order_by(col(AuditRow.id))
    )
    found: dict[str, list[AuditRow]] = {k: [] for k in flag_keys}
    for row in session.exec(query):
        found[row.subject_id].append(row)
    return found
