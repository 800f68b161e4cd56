"""Migration 0002 (sign-off tables) on SQLite and PostgreSQL: applied, reverted, reapplied;
and the uniqueness that makes one signature per role and visit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from bot.store.database import Database, alembic_config
from bot.store.signoff_models import SignatureRow

SIGNOFF_TABLES = {"signoff_signature", "signoff_gate", "signoff_request", "checklist_result"}
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_migration_0002_applies_reverts_and_reapplies(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert set(inspect(db.engine).get_table_names()) >= SIGNOFF_TABLES
        cfg = alembic_config(database_url)
        command.downgrade(cfg, "0001")
        assert not SIGNOFF_TABLES & set(inspect(db.engine).get_table_names())
        command.upgrade(cfg, "0002")
        assert set(inspect(db.engine).get_table_names()) >= SIGNOFF_TABLES
    finally:
        db.dispose()


def _approval(user: str, key: str | None) -> SignatureRow:
    return SignatureRow(
        rollout_id=1,
        step_index=0,
        entered_at=T0,
        gate_id="launch",
        role_id="eng_lead",
        user_id=user,
        via="slack",
        decision="approved" if key else "rejected",
        at=T0,
        approval_key=key,
    )


def test_a_role_is_approved_once_per_visit_while_rejections_may_repeat(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        with db.session() as s:
            s.add(_approval("U1", "1:0:1:eng_lead"))
            s.add(_approval("U1", None))
            s.add(_approval("U2", None))  # NULL keys never collide
        with pytest.raises(IntegrityError), db.session() as s:
            s.add(_approval("U2", "1:0:1:eng_lead"))
    finally:
        db.dispose()
