"""Tables of the rollback feature: condition streaks and rollback runs.

Created by migration 0003. Kept apart from models.py so the feature's schema reads in one
place; `bot.store.models` stays the foundation's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime

TRIGGER_STEP = -1
"""`step_index` of trigger rows: triggers watch the whole rollout, not one step."""

BASELINE, METRIC, BASELINE_STEP = "baseline", "metric", -2
"""`kind` and `step_index` of baseline rows (the value of a relative criterion or success
metric over its window before the rollout started, measured once per rollout and name) and
of metric rows (a relative success metric's latest value: it holds nothing, so it has no
streak, but the card and the report compare it with its baseline)."""


class ConditionRow(SQLModel, table=True):
    """The latest observation of one trigger (per rollout) or criterion (per rollout step),
    with its consecutive bad/good counts. The counts live in the database so a restart, or
    another replica, continues the streak instead of starting over."""

    __tablename__ = "metric_condition"
    __table_args__ = (
        UniqueConstraint("rollout_id", "kind", "name", "step_index", name="uq_metric_condition"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rollout_id: int = Field(index=True, foreign_key="rollout.id")
    kind: str = Field(max_length=10)  # "trigger" or "criterion"
    name: str = Field(max_length=100)
    step_index: int = TRIGGER_STEP
    value: float | None = None
    error: str | None = None
    bad: int = 0
    good: int = 0
    last: str | None = Field(default=None, max_length=10)
    # The last few counted values (no-data observations that were ignored or held are left
    # out), newest last: the tail is the current streak, which a rollback message shows.
    recent: list[float | None] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    evaluated_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    fired_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class RollbackRow(SQLModel, table=True):
    """One run of a rollout's rollback runbook, step results included.

    `state` is running, succeeded or failed. A failed rollback may be run again (a new
    attempt); a running or succeeded one may not, which is what keeps two rollbacks of one
    rollout from running at once. A running one whose `lease_until` passed is resumed by the
    scheduler (see `RollbackService.resume_interrupted`).
    """

    __tablename__ = "rollback"
    __table_args__ = (UniqueConstraint("rollout_id", "attempt", name="uq_rollback_attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    rollout_id: int = Field(index=True, foreign_key="rollout.id")
    flag_key: str = Field(index=True, max_length=100)
    attempt: int = 1
    automatic: bool = False
    actor: str
    reason: str
    trigger: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    state: str = Field(max_length=20)
    started_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    steps: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    failed_step: str | None = None
    # Renewed as each step starts and finishes while the runbook runs (migration 0006). A
    # "running" row whose lease has passed was being run by a process that died: the
    # scheduler claims it and resumes the runbook. NULL on rows from before the lease.
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
