"""timeline parts: a timeline entry keeps its message as data (mentions, channels, emphasis)

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: entries written before keep their text only (read back by `legacy_message`).
    with op.batch_alter_table("incident_event") as batch:
        batch.add_column(sa.Column("parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident_event") as batch:
        batch.drop_column("parts")
