"""The built-in flag store: flags in rollbot's own database, served at /flags."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from bot.clock import Clock
from bot.domain.actor import Actor
from bot.domain.flag import FlagChange, FlagDocument, apply_change
from bot.store import audit, flags
from bot.store.database import Database, Transaction


class BuiltinFlagProvider:
    """Flags kept in the `flag` table; every change is audited with before and after."""

    name = "builtin"

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def get(self, key: str) -> FlagDocument | None:
        """The stored document, or None."""
        with self.db.session() as session:
            row = flags.get(session, key)
            return flags.to_document(row) if row else None

    def apply(
        self, key: str, change: FlagChange, actor: Actor, within: Transaction | None = None
    ) -> FlagDocument:
        """Apply the change with its audit event, in the caller's transaction if given."""
        if within is not None:
            return self._apply(within.session, key, change, actor)
        with self.db.session() as own:
            return self._apply(own, key, change, actor)

    def apply_many(
        self, changes: Sequence[tuple[str, FlagChange]], actor: Actor, within: Transaction
    ) -> list[FlagDocument]:
        """Apply changes to many flags in the caller's transaction, in a constant number of
        statements (the scheduler advancing many rollouts in one tick); each is audited as
        `apply` audits it."""
        session, now = within.session, self.clock.now()
        keys = [key for key, _ in changes]
        rows = flags.get_many(session, keys, for_update=True)
        # Flags of running rollouts exist: creating is the rare case, so it comes second.
        created = flags.ensure_many(session, [k for k in keys if k not in rows], now)
        if created:
            rows |= flags.get_many(session, created, for_update=True)
        documents: list[FlagDocument] = []
        events: list[audit.Event] = []
        for key, change in changes:
            row = rows[key]
            before = None if key in created else flags.to_document(row)
            after = apply_change(flags.to_document(row), change)
            flags.put(session, key, after, now, row=row, bump=False)
            events.append(_event(key, actor, now, before, after, key in created))
            documents.append(after)
        audit.record_many(session, events)
        if documents:
            flags.bump_state(session)  # once for the batch: replicas reload the flags
        return documents

    def _apply(self, session: Session, key: str, change: FlagChange, actor: Actor) -> FlagDocument:
        now = self.clock.now()
        # Create-if-missing first, so the locking read below always has a row to lock and two
        # writers creating the same flag queue instead of colliding on the primary key.
        created = flags.ensure(session, key, now)
        row = flags.get(session, key, for_update=True)
        assert row is not None
        before = None if created else flags.to_document(row)
        after = apply_change(flags.to_document(row), change)
        flags.put(session, key, after, now, row=row)
        e = _event(key, actor, now, before, after, created)
        audit.record(
            session,
            actor=e.actor,
            at=e.at,
            action=e.action,
            subject_type=e.subject_type,
            subject_id=e.subject_id,
            before=e.before,
            after=e.after,
        )
        return after

    def remove(self, key: str, actor: Actor) -> bool:
        """Remove the flag for good (its audit event keeps the last document); False when
        there was no such flag."""
        now = self.clock.now()
        with self.db.session() as session:
            row = flags.delete(session, key)
            if row is None:
                return False
            audit.record(
                session,
                actor=actor,
                at=now,
                action="flag.removed",
                subject_type="flag",
                subject_id=key,
                before=flags.to_document(row).model_dump(),
            )
            return True


def _event(
    key: str,
    actor: Actor,
    now: datetime,
    before: FlagDocument | None,
    after: FlagDocument,
    created: bool,
) -> audit.Event:
    """The audit event of one flag change."""
    return audit.Event(
        actor=actor,
        at=now,
        action="flag.created" if created else "flag.changed",
        subject_type="flag",
        subject_id=key,
        before=before.model_dump() if before else None,
        after=after.model_dump(),
    )
