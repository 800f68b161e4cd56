"""rollback lease: a running rollback's lease, so an interrupted one is resumed

Revision ID: 0006
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite cannot alter a table in place (adding a nullable column it can, but
    # the downgrade's drop needs the copy-and-move).
    with op.batch_alter_table("rollback") as batch:
        batch.add_column(sa.Column("lease_until", bot.store.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rollback") as batch:
        batch.drop_column("lease_until")
