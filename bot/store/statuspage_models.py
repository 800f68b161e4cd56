"""Tables of the status page providers.

`status_incident` / `status_update`: the builtin status page (one entry per incident key,
with its history of updates). `status_external_ref`: which incident in an outside status
page (e.g. Atlassian Statuspage) an incident key was published as, so that after a restart
rollbot keeps updating the same incident instead of opening a second one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, Text
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable)


class StatusIncidentRow(SQLModel, table=True):
    """An incident as the builtin status page shows it: its latest state."""

    __tablename__ = "status_incident"

    id: int | None = Field(default=None, primary_key=True)
    incident_key: str = Field(unique=True, max_length=200)
    title: str
    status: str = Field(max_length=20)
    impact: str = Field(max_length=20)
    components: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    started_at: datetime = _ts()
    updated_at: datetime = _ts()
    resolved_at: datetime | None = _ts(nullable=True)


class StatusPageUpdateRow(SQLModel, table=True):
    """One published update of an incident on the builtin page (its history)."""

    __tablename__ = "status_update"
    __table_args__ = (Index("ix_status_update_incident_at", "status_incident_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    status_incident_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("status_incident.id", ondelete="CASCADE"), nullable=False
        )
    )
    title: str
    status: str = Field(max_length=20)
    impact: str = Field(max_length=20)
    message: str = Field(sa_column=Column(Text, nullable=False))
    components: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    at: datetime = _ts()


class StatusExternalRefRow(SQLModel, table=True):
    """Incident key -> the id an outside status page gave that incident."""

    __tablename__ = "status_external_ref"

    provider: str = Field(primary_key=True, max_length=200)
    incident_key: str = Field(primary_key=True, max_length=200)
    external_id: str = Field(max_length=200)
    created_at: datetime = _ts()
