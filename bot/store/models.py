"""The tables. Every table is created and changed by an Alembic migration, never by
`create_all`, so a deployed database can be upgraded in place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable)


class FlagRow(SQLModel, table=True):
    """A feature flag in the built-in flag store."""

    __tablename__ = "flag"

    key: str = Field(primary_key=True, max_length=100)
    enabled: bool = False
    rollout_percentage: int = 0
    user_segments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    fallback_enabled: bool = True
    monitoring_enabled: bool = True
    segment_rollouts: dict[str, int] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    variants: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    version: int = 1


class FlagStateRow(SQLModel, table=True):
    """The one row whose version changes with every flag change (replicas poll it)."""

    __tablename__ = "flag_state"

    id: int = Field(primary_key=True)
    version: int = Field(sa_type=BigInteger)


class RolloutRow(SQLModel, table=True):
    """One run of a plan against a flag."""

    __tablename__ = "rollout"
    __table_args__ = (
        # At most one active rollout per flag: active_flag_key is the flag key while the
        # rollout runs or is paused and NULL afterwards (NULLs never collide).
        UniqueConstraint("active_flag_key", name="uq_rollout_active_flag"),
        Index("ix_rollout_due", "state", "step_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    flag_key: str = Field(index=True, max_length=100)
    active_flag_key: str | None = Field(default=None, max_length=100)
    plan_name: str
    plan: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(max_length=20)
    step_index: int = 0
    percentage: int = 0
    step_started_at: datetime = _ts()
    step_due_at: datetime | None = _ts(nullable=True)
    paused_remaining_s: int | None = None
    started_by: str
    started_at: datetime = _ts()
    updated_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    channel_id: str | None = None
    message_ts: str | None = None
    version: int = 1


class AuditRow(SQLModel, table=True):
    """Who changed what, when, through which door, with the state before and after."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    actor: str
    via: str = Field(max_length=20)
    action: str = Field(index=True, max_length=60)
    subject_type: str = Field(max_length=30)
    subject_id: str = Field(index=True, max_length=100)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    detail: str | None = None


class ProcessedRequestRow(SQLModel, table=True):
    """A request taken (a Slack retry or a double click applies once), and until its work is
    done, the durable record of that work: which listener runs it and on what.

    A row waits while `claimed_until` is set: a replica holds it until then (it renews the
    claim while the work is queued or running there), and once the claim has run out
    another one runs it again. Done, the row keeps only its key and time (`payload` is
    cleared: the Slack body carries a live response_url)."""

    __tablename__ = "processed_request"
    __table_args__ = (Index("ix_processed_request_claimed_until", "claimed_until"),)

    key: str = Field(primary_key=True, max_length=255)
    at: datetime = _ts()
    listener: str | None = Field(default=None, max_length=100)
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    claimed_until: datetime | None = _ts(nullable=True)
    # How many times a replica took the work on (1 when taken with the request itself).
    runs: int = 0


class OutboxRow(SQLModel, table=True):
    """A chat notification that could not be delivered yet; retried with backoff."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = _ts()
    last_error: str | None = None
    created_at: datetime = _ts()
    delivered_at: datetime | None = _ts(nullable=True)
    # Where it goes (`rollout:<id>`): one thread's notifications are delivered in order.
    thread: str | None = Field(default=None, max_length=100)
    # A replica delivering it holds it until then (outbox.claim): each one posts it once.
    claimed_until: datetime | None = _ts(nullable=True)
