"""The built-in flag store: flags in rollbot's own database, served at /flags."""

from __future__ import annotations

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

    def _apply(self, session: Session, key: str, change: FlagChange, actor: Actor) -> FlagDocument:
        now = self.clock.now()
        # Create-if-missing first, so the locking read below always has a row to lock and two
        # writers creating the same flag queue instead of colliding on the primary key.
        created = flags.ensure(session, key, now)
        row = flags.get(session, key, for_update=True)
        assert row is not None
        before = None if created else flags.to_document(row)
        after = apply_change(flags.to_document(row), change)
        flags.put(session, key, after, now)
        audit.record(
            session,
            actor=actor,
            at=now,
            action="flag.created" if created else "flag.changed",
            subject_type="flag",
            subject_id=key,
            before=before.model_dump() if before else None,
            after=after.model_dump(),
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
