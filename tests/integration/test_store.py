"""Schema migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from bot.store.database import Database
from bot.store.db import alembic_config, upgrade

TABLES = {"flag", "rollout", "audit_event", "processed_request", "outbox", "alembic_version"}
# The newest migration(s): each feature adds its own revision on top of 0001.
HEADS = sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def _revision(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]


def test_migrations_apply_and_reapply(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        assert sorted(_revision(db)) == HEADS
        upgrade(db.engine)  # again: nothing to do
        upgrade(db.engine)
        assert sorted(_revision(db)) == HEADS
    finally:
        db.dispose()
    again = Database(database_url)  # a second process opening the same database
    try:
        assert sorted(_revision(again)) == HEADS
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
