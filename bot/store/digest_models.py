"""The table of digest slots (created by migration 0009).

One row per (digest, slot time): the unique pair is what makes a slot post once, whichever
replica gets there first and however often the process restarts. A `baseline` row marks the
moment a digest was first seen, so a new database has no missed slots to post.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime


class DigestSlotRow(SQLModel, table=True):
    """A slot of a digest: claimed (and queued for posting) or the digest's baseline."""

    __tablename__ = "digest_slot"
    __table_args__ = (UniqueConstraint("digest", "slot_at", name="uq_digest_slot"),)

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=40, index=True)
    slot_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    kind: str = Field(max_length=10)  # "posted" or "baseline"
    claimed_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    late: bool = False
    channel: str | None = Field(default=None, max_length=80)
