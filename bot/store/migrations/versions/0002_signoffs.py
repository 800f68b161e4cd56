"""sign-off chain, gate visits, sign-off requests (reminder state), checklist results

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 06:37:35.253936
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checklist_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=255), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("checklist_id", sa.String(length=100), nullable=False),
        sa.Column("item_index", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("checked_by", sa.String(length=100), nullable=True),
        sa.Column("via", sa.String(length=20), nullable=True),
        sa.Column("at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("detail", sa.String(), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("next_probe_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_key"),
    )
    with op.batch_alter_table("checklist_result", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_checklist_result_rollout_id"), ["rollout_id"], unique=False
        )

    op.create_table(
        "signoff_gate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_key", sa.String(length=255), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("entered_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("gate_id", sa.String(length=100), nullable=False),
        sa.Column("opened_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("timeout_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("timed_out_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("passed_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("closed_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("visit_key"),
    )
    with op.batch_alter_table("signoff_gate", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signoff_gate_rollout_id"), ["rollout_id"], unique=False
        )

    op.create_table(
        "signoff_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=255), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("entered_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("gate_id", sa.String(length=100), nullable=False),
        sa.Column("role_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("next_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("asked_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("escalate_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("escalated_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("closed_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_key"),
    )
    with op.batch_alter_table("signoff_request", schema=None) as batch_op:
        batch_op.create_index("ix_signoff_request_due", ["closed_at", "next_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_signoff_request_rollout_id"), ["rollout_id"], unique=False
        )

    op.create_table(
        "signoff_signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("entered_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("gate_id", sa.String(length=100), nullable=False),
        sa.Column("role_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("approval_key", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("approval_key"),
    )
    with op.batch_alter_table("signoff_signature", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signoff_signature_rollout_id"), ["rollout_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("signoff_signature", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signoff_signature_rollout_id"))

    op.drop_table("signoff_signature")
    with op.batch_alter_table("signoff_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signoff_request_rollout_id"))
        batch_op.drop_index("ix_signoff_request_due")

    op.drop_table("signoff_request")
    with op.batch_alter_table("signoff_gate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signoff_gate_rollout_id"))

    op.drop_table("signoff_gate")
    with op.batch_alter_table("checklist_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checklist_result_rollout_id"))

    op.drop_table("checklist_result")
