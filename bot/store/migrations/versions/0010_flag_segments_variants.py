"""flag segment rollouts and variants; the flag state version every replica polls

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("flag") as batch:
        batch.add_column(
            sa.Column("segment_rollouts", sa.JSON(), nullable=False, server_default="{}")
        )
        batch.add_column(sa.Column("variants", sa.JSON(), nullable=False, server_default="[]"))
    # One row whose version is bumped in the transaction of every flag change: replicas
    # poll it (one indexed row) to know when to reload their in-memory flags.
    state = op.create_table(
        "flag_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(state, [{"id": 1, "version": 1}])


def downgrade() -> None:
    op.drop_table("flag_state")
    with op.batch_alter_table("flag") as batch:
        batch.drop_column("variants")
        batch.drop_column("segment_rollouts")
