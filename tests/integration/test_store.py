"""Schema migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from bot.store.database import Database, alembic_config, upgrade

TABLES = {"flag", "rollout", "audit_event", "processed_request", "outbox", "alembic_version"}
TABLES |= {"status_incident", "status_update", "status_external_ref"}
TABLES |= {"metric_condition", "rollback"}
TABLES |= {"incident", "incident_event", "incident_status_update", "incident_postmortem"}
TABLES |= {"incident_job"}
TABLES |= {"signoff_signature", "signoff_gate", "signoff_request", "checklist_result"}
TABLES |= {"digest_slot"}


def _heads(url: str) -> list[str]:
    """The newest revision(s) of the packaged migrations."""
    return sorted(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def _revision(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT version_num FROM alembic_version"))
        return sorted(r[0] for r in rows)


def test_migrations_apply_and_reapply(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        assert _revision(db) == _heads(database_url) == ["0013"]
        columns = {c["name"] for c in inspect(db.engine).get_columns("rollback")}
        assert "lease_until" in columns  # 0006: an interrupted rollback is resumed
        columns = {c["name"] for c in inspect(db.engine).get_columns("incident_event")}
        assert "parts" in columns  # 0007: timeline entries keep their message as data
        columns = {c["name"] for c in inspect(db.engine).get_columns("checklist_result")}
        assert "reminders_sent" in columns  # 0012: post-migration task reminders
        columns = {c["name"] for c in inspect(db.engine).get_columns("flag")}
        assert {"segment_rollouts", "variants"} <= columns  # 0010: segments and A/B variants
        assert "flag_state" in inspect(db.engine).get_table_names()  # 0010: polled version
        columns = {c["name"] for c in inspect(db.engine).get_columns("outbox")}
        assert "claimed_until" in columns  # 0011: one replica delivers each retry
        upgrade(db.engine)  # again: nothing to do
        upgrade(db.engine)
        assert _revision(db) == _heads(database_url)
    finally:
        db.dispose()
    again = Database(database_url)  # a second process opening the same database
    try:
        assert _revision(again) == _heads(database_url)
        assert set(inspect(again.engine).get_table_names()) >= TABLES
    finally:
        again.dispose()


def test_no_migration_when_asked_not_to(database_url: str) -> None:
    db = Database(database_url, migrate=False)
    try:
        assert "rollout" not in inspect(db.engine).get_table_names()
    finally:
        db.dispose()


def test_dialect_is_detected(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert db.is_postgres == database_url.startswith("postgresql")
    finally:
        db.dispose()
