"""digest slots: each scheduled digest slot is recorded once

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_slot",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest", sa.String(length=40), nullable=False),
        sa.Column("slot_at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("channel", sa.String(length=80), nullable=True),
        sa.UniqueConstraint("digest", "slot_at", name="uq_digest_slot"),
    )
    op.create_index("ix_digest_slot_digest", "digest_slot", ["digest"])


def downgrade() -> None:
    op.drop_index("ix_digest_slot_digest", table_name="digest_slot")
    op.drop_table("digest_slot")
