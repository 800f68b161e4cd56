"""Incident tables: incidents, their timelines, status updates, post-mortems and due work.

The durable truth of what is due lives here (a status update's next attempt, a nudge, a
post-mortem reminder), never only in the scheduler: a restart reads it back, and every
piece is claimed with a row lock and a lease so it runs once across replicas.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable)


def _ts_default_none() -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=True)


class IncidentRow(SQLModel, table=True):
    """One incident, from declaration to post-mortem."""

    __tablename__ = "incident"
    __table_args__ = (
        Index("ix_incident_source", "source", "source_ref"),
        # One open incident per outside source: `active_source` is "<source>:<ref>" while
        # the incident is open and NULL afterwards (NULLs never collide), so two replicas
        # taking the same alert at the same moment cannot open two incidents.
        UniqueConstraint("active_source", name="uq_incident_active_source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, unique=True)
    title: str = Field(max_length=200)
    severity: str = Field(max_length=10)
    status: str = Field(max_length=20)
    state: str = Field(max_length=20, index=True)  # active | resolved
    impact: str = Field(max_length=20)
    components: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    commander: str | None = None
    declared_by: str
    declared_at: datetime = _ts()
    acknowledged_at: datetime | None = _ts_default_none()
    resolved_at: datetime | None = _ts_default_none()
    last_update_at: datetime | None = _ts_default_none()
    channel_id: str | None = Field(default=None, max_length=40, index=True)
    channel_name: str | None = Field(default=None, max_length=80)
    card_ts: str | None = Field(default=None, max_length=40)
    source: str = Field(default="manual", max_length=20)
    source_ref: str | None = Field(default=None, max_length=255)
    active_source: str | None = Field(default=None, max_length=280)
    rollout_id: int | None = None
    paged: bool = False
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    version: int = 0


class IncidentEventRow(SQLModel, table=True):
    """One timeline entry; `dedupe` keeps a re-delivered event (a retried webhook, a
    second :pushpin: on the same message) from landing twice."""

    __tablename__ = "incident_event"
    __table_args__ = (UniqueConstraint("incident_id", "dedupe", name="uq_incident_event_dedupe"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    at: datetime = _ts()
    kind: str = Field(max_length=30)
    text: str = Field(sa_column=Column(Text, nullable=False))  # the message as plain text
    actor: str = Field(default="rollbot", max_length=100)
    permalink: str | None = None
    dedupe: str | None = Field(default=None, max_length=255)
    # The message as data (bot/store/messages.py); None on entries from before 0007.
    parts: list[Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class IncidentStatusUpdateRow(SQLModel, table=True):
    """An incident's public status update as rollbot keeps it: drafted, queued for
    publication, published, or superseded by a newer one. Its own next attempt time makes
    it due work. (The builtin status page's own history is `StatusPageUpdateRow`.)"""

    __tablename__ = "incident_status_update"
    __table_args__ = (Index("ix_status_update_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    status: str = Field(max_length=20)
    message: str = Field(sa_column=Column(Text, nullable=False))
    impact: str = Field(max_length=20)
    components: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: str = Field(max_length=20)  # draft | queued | published | superseded | failed
    created_by: str
    created_at: datetime = _ts()
    deadline_at: datetime | None = _ts_default_none()
    next_attempt_at: datetime | None = _ts_default_none()
    lease_until: datetime | None = _ts_default_none()
    attempts: int = 0
    provider_index: int = 0
    provider_attempts: int = 0
    provider_used: str | None = Field(default=None, max_length=60)
    reference: str | None = None
    last_error: str | None = None
    published_at: datetime | None = _ts_default_none()
    published_by: str | None = None
    dm_channel: str | None = Field(default=None, max_length=40)
    dm_ts: str | None = Field(default=None, max_length=40)


class PostmortemRow(SQLModel, table=True):
    """The post-mortem draft of a resolved incident, due 48 h after resolution."""

    __tablename__ = "incident_postmortem"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", unique=True)
    markdown: str = Field(sa_column=Column(Text, nullable=False))
    rendered_at: datetime = _ts()
    due_at: datetime = _ts()
    done_at: datetime | None = _ts_default_none()
    done_by: str | None = None
    file_id: str | None = None


class IncidentJobRow(SQLModel, table=True):
    """A piece of due work for an incident: the status deadline check, a nudge, a
    post-mortem reminder or the overdue flag. Done once: claimed under a row lock with a
    lease, marked done afterwards."""

    __tablename__ = "incident_job"
    __table_args__ = (
        UniqueConstraint("incident_id", "kind", "due_at", name="uq_incident_job"),
        Index("ix_incident_job_due", "done_at", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    kind: str = Field(max_length=30)
    due_at: datetime = _ts()
    done_at: datetime | None = _ts_default_none()
    lease_until: datetime | None = _ts_default_none()
    attempts: int = 0
    last_error: str | None = None
