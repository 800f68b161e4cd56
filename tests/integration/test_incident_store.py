"""The incident tables: migration 0004 up and down, and the timeline's dedupe key."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect

from bot.domain.incident import EventKind
from bot.store import incidents as store
from bot.store.database import Database, alembic_config, upgrade
from bot.store.incident_models import IncidentRow

TABLES = {
    "incident",
    "incident_event",
    "incident_status_update",
    "incident_postmortem",
    "incident_job",
}
T0 = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


def test_migration_0004_goes_up_and_down(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        cfg = alembic_config(database_url)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
        names = set(inspect(db.engine).get_table_names())
        assert not TABLES & names and "rollout" in names
        upgrade(db.engine)
        assert set(inspect(db.engine).get_table_names()) >= TABLES
    finally:
        db.dispose()


def test_timeline_dedupe_keeps_the_transaction_usable(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.session() as s:
            row = IncidentRow(
                key="inc-1",
                title="t",
                severity="sev3",
                status="investigating",
                state="active",
                impact="minor",
                declared_by="U1",
                declared_at=T0,
            )
            s.add(row)
            s.flush()
            assert row.id is not None
            assert store.add_event(s, row.id, T0, EventKind.PINNED, "a", dedupe="pin:1")
            assert not store.add_event(s, row.id, T0, EventKind.PINNED, "a", dedupe="pin:1")
            assert store.add_event(s, row.id, T0, EventKind.NOTE, "after the duplicate")
            incident_id = row.id
        with db.session() as s:
            assert [e.text for e in store.timeline(s, incident_id)] == ["a", "after the duplicate"]
    finally:
        db.dispose()
