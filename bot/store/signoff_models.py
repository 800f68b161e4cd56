"""Tables of the sign-off chain and checklists (created by migration 0002).

A gate's signatures belong to one visit of its step: `entered_at` is the rollout's
`step_started_at` when the gate opened, so after a rollback (or any new visit) the chain
starts again while the old signatures stay on record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable)


class SignatureRow(SQLModel, table=True):
    """An approval or a rejection of one role in one gate visit."""

    __tablename__ = "signoff_signature"

    id: int | None = Field(default=None, primary_key=True)
    rollout_id: int = Field(index=True)
    step_index: int
    entered_at: datetime = _ts()
    gate_id: str = Field(max_length=100)
    role_id: str = Field(max_length=100)
    user_id: str = Field(max_length=100)
    via: str = Field(max_length=20)
    decision: str = Field(max_length=20)  # approved | rejected
    reason: str | None = None
    at: datetime = _ts()
    # Set for approvals only ("rollout:step:entered:role"): unique, so one role is signed
    # once per visit however many clicks or replicas race (NULLs never collide).
    approval_key: str | None = Field(default=None, max_length=255, unique=True)


class GateVisitRow(SQLModel, table=True):
    """A gate opened for one visit of its step: when, its timeout, and how it ended."""

    __tablename__ = "signoff_gate"

    id: int | None = Field(default=None, primary_key=True)
    visit_key: str = Field(max_length=255, unique=True)  # "rollout:step:entered"
    rollout_id: int = Field(index=True)
    step_index: int
    entered_at: datetime = _ts()
    gate_id: str = Field(max_length=100)
    opened_at: datetime = _ts()
    timeout_at: datetime | None = _ts(nullable=True)
    timed_out_at: datetime | None = _ts(nullable=True)
    passed_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)


class SignoffRequestRow(SQLModel, table=True):
    """Asking one role to sign: when it was asked, reminded and escalated (so a restart
    neither loses nor repeats a reminder), and the messages to update when it closes."""

    __tablename__ = "signoff_request"
    __table_args__ = (Index("ix_signoff_request_due", "closed_at", "next_at"),)

    id: int | None = Field(default=None, primary_key=True)
    request_key: str = Field(max_length=255, unique=True)  # "rollout:step:entered:role"
    rollout_id: int = Field(index=True)
    step_index: int
    entered_at: datetime = _ts()
    gate_id: str = Field(max_length=100)
    role_id: str = Field(max_length=100)
    created_at: datetime = _ts()
    next_at: datetime | None = _ts(nullable=True)  # when the next ask/reminder/escalation is due
    asked_at: datetime | None = _ts(nullable=True)
    reminders_sent: int = 0
    escalate_at: datetime | None = _ts(nullable=True)
    escalated_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)
    messages: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class ChecklistResultRow(SQLModel, table=True):
    """The current result of one checklist item of a rollout (history is in the audit)."""

    __tablename__ = "checklist_result"

    id: int | None = Field(default=None, primary_key=True)
    item_key: str = Field(max_length=255, unique=True)  # "rollout:checklist:index"
    rollout_id: int = Field(index=True)
    checklist_id: str = Field(max_length=100)
    item_index: int
    status: str = Field(max_length=20)  # open | done | failing
    checked_by: str | None = Field(default=None, max_length=100)
    via: str | None = Field(default=None, max_length=20)
    at: datetime | None = _ts(nullable=True)
    detail: str | None = None
    manual: bool = False  # checked by an owner: probes no longer change it
    next_probe_at: datetime | None = _ts(nullable=True)
    # Post-migration tasks: 1 once the owner was reminded before the due date, 2 once told
    # it is overdue (each sent once, claimed under the row lock).
    reminders_sent: int = 0
