"""rollbacks: metric condition streaks and rollback runs

Revision ID: 0003
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision: str = "0003"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_condition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("bad", sa.Integer(), nullable=False),
        sa.Column("good", sa.Integer(), nullable=False),
        sa.Column("last", sa.String(length=10), nullable=True),
        sa.Column("recent", sa.JSON(), nullable=False),
        sa.Column("evaluated_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("fired_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["rollout_id"], ["rollout.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rollout_id", "kind", "name", "step_index", name="uq_metric_condition"),
    )
    with op.batch_alter_table("metric_condition", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_metric_condition_rollout_id"), ["rollout_id"], unique=False
        )
    op.create_table(
        "rollback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("flag_key", sa.String(length=100), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("failed_step", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["rollout_id"], ["rollout.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rollout_id", "attempt", name="uq_rollback_attempt"),
    )
    with op.batch_alter_table("rollback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rollback_rollout_id"), ["rollout_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rollback_flag_key"), ["flag_key"], unique=False)


def downgrade() -> None:
    op.drop_table("rollback")
    op.drop_table("metric_condition")
