"""incidents: incidents, timeline events, status updates, post-mortems, due work

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-29 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("impact", sa.String(length=20), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("commander", sa.String(), nullable=True),
        sa.Column("declared_by", sa.String(), nullable=False),
        sa.Column("declared_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("resolved_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("last_update_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("channel_id", sa.String(length=40), nullable=True),
        sa.Column("channel_name", sa.String(length=80), nullable=True),
        sa.Column("card_ts", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_ref", sa.String(length=255), nullable=True),
        sa.Column("active_source", sa.String(length=280), nullable=True),
        sa.Column("rollout_id", sa.Integer(), nullable=True),
        sa.Column("paged", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("active_source", name="uq_incident_active_source"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index("ix_incident_source", ["source", "source_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_state"), ["state"], unique=False)

    op.create_table(
        "incident_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("permalink", sa.String(), nullable=True),
        sa.Column("dedupe", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "dedupe", name="uq_incident_event_dedupe"),
    )
    with op.batch_alter_table("incident_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_event_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "incident_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("due_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("done_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("lease_until", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "kind", "due_at", name="uq_incident_job"),
    )
    with op.batch_alter_table("incident_job", schema=None) as batch_op:
        batch_op.create_index("ix_incident_job_due", ["done_at", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_incident_job_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "incident_postmortem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("rendered_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("due_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("done_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("done_by", sa.String(), nullable=True),
        sa.Column("file_id", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id"),
    )
    op.create_table(
        "incident_status_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("impact", sa.String(length=20), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("deadline_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("next_attempt_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("lease_until", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider_index", sa.Integer(), nullable=False),
        sa.Column("provider_attempts", sa.Integer(), nullable=False),
        sa.Column("provider_used", sa.String(length=60), nullable=True),
        sa.Column("reference", sa.String(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("published_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("published_by", sa.String(), nullable=True),
        sa.Column("dm_channel", sa.String(length=40), nullable=True),
        sa.Column("dm_ts", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incident_status_update", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_status_update_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index("ix_status_update_due", ["state", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident_status_update", schema=None) as batch_op:
        batch_op.drop_index("ix_status_update_due")
        batch_op.drop_index(batch_op.f("ix_incident_status_update_incident_id"))

    op.drop_table("incident_status_update")
    op.drop_table("incident_postmortem")
    with op.batch_alter_table("incident_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_job_incident_id"))
        batch_op.drop_index("ix_incident_job_due")

    op.drop_table("incident_job")
    with op.batch_alter_table("incident_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_event_incident_id"))

    op.drop_table("incident_event")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_state"))
        batch_op.drop_index("ix_incident_source")
        batch_op.drop_index(batch_op.f("ix_incident_channel_id"))

    op.drop_table("incident")
