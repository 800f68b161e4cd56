"""status page: builtin page incidents and updates, outside page incident ids

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-29 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_key", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("impact", sa.String(length=20), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("started_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("resolved_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_key"),
    )
    op.create_table(
        "status_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status_incident_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("impact", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("at", bot.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["status_incident_id"], ["status_incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("status_update", schema=None) as batch_op:
        batch_op.create_index(
            "ix_status_update_incident_at", ["status_incident_id", "at"], unique=False
        )
    op.create_table(
        "status_external_ref",
        sa.Column("provider", sa.String(length=200), nullable=False),
        sa.Column("incident_key", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("provider", "incident_key"),
    )


def downgrade() -> None:
    op.drop_table("status_external_ref")
    with op.batch_alter_table("status_update", schema=None) as batch_op:
        batch_op.drop_index("ix_status_update_incident_at")
    op.drop_table("status_update")
    op.drop_table("status_incident")
