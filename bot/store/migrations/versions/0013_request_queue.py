"""request queue: the request ledger's row is the durable record of a Slack request's work
until it is done (listener, payload, claim, runs)

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.types import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The rows already there were handled before: no claim, nothing to run.
    with op.batch_alter_table("processed_request") as batch:
        batch.add_column(sa.Column("listener", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("claimed_until", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("runs", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_processed_request_claimed_until", ["claimed_until"])


def downgrade() -> None:
    with op.batch_alter_table("processed_request") as batch:
        batch.drop_index("ix_processed_request_claimed_until")
        batch.drop_column("runs")
        batch.drop_column("claimed_until")
        batch.drop_column("payload")
        batch.drop_column("listener")
