"""Checklists of a plan: items with an owner role, checked by a person or by a probe.

The reference plan's Pre-Migration Checklist (Code Readiness, Infrastructure Readiness),
Communication Plan and Post-Migration Tasks are checklists; `section` groups them the way
the plan document does, so the final report can reproduce it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.durations import parse_duration
from bot.domain.message import Message, Strong
from bot.domain.triggers import (
    MetricDatabaseName,
    MetricProviderName,
    MetricSource,
    source_fits,
    source_of,
)

KINDS = ("http", "tls", "command", "metric", "flag_removed")

# Post-migration tasks of rollouts finished longer ago than this are no longer followed
# (reminded or probed): the shipped plan's last tasks are due four weeks after.
FOLLOW_UP_HORIZON = timedelta(days=120)


class Probe(BaseModel):
    """An automatic check rollbot runs and re-runs; exactly one kind is given.

    - `http: URL` passes when the URL answers 2xx.
    - `tls: host[:port]` passes when its certificate is valid for more than `min_days`.
    - `command: "..."` passes when the command exits 0 within `timeout`.
    - `metric: query` passes when the value is within `min`/`max`.
    - `flag_removed: true` passes once the rollout's flag is gone from the flag system (the
      plan's "Remove feature flags" task, done only when it really is).
    """

    model_config = ConfigDict(extra="forbid")

    http: str | None = None
    tls: str | None = None
    command: str | None = None
    metric: str | None = None
    flag_removed: bool = False
    min_days: int = Field(default=14, ge=0)
    timeout: str = "30s"
    min: float | None = None
    max: float | None = None
    every: str = "5m"
    # A metric probe's provider (default: `metrics.provider`) and, for sql, its database.
    provider: MetricProviderName | None = None
    database: MetricDatabaseName | None = None

    @field_validator("timeout", "every")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Probe:
        kinds = [k for k in KINDS if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError(
                "a probe needs exactly one of http, tls, command, metric, flag_removed "
                f"(found: {', '.join(kinds) or 'none'})"
            )
        if self.http and not self.http.startswith(("http://", "https://")):
            raise ValueError(f"http probe {self.http!r} must start with http:// or https://")
        if self.metric and self.min is None and self.max is None:
            raise ValueError("a metric probe needs min and/or max")
        if (self.provider or self.database) and not self.metric:
            raise ValueError("provider and database belong to a metric probe")
        return self

    _source = model_validator(mode="after")(source_fits)  # after the checks above

    @property
    def source(self) -> MetricSource:
        """Where a metric probe's query is answered."""
        return source_of(self)

    @property
    def kind(self) -> str:
        """Which kind of probe this is: http, tls, command, metric or flag_removed."""
        return next(k for k in KINDS if getattr(self, k))

    @property
    def target(self) -> str:
        """What the probe looks at (URL, host, command or query; the rollout's flag)."""
        return "the rollout's flag" if self.flag_removed else str(getattr(self, self.kind))

    @property
    def interval(self) -> timedelta:
        """How often the probe is re-run."""
        return parse_duration(self.every)

    @property
    def timeout_delta(self) -> timedelta:
        """How long the probe may take."""
        return parse_duration(self.timeout)


class ChecklistItem(BaseModel):
    """One item: its text, the role that owns it, and optionally a probe and a due offset."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    probe: Probe | None = None
    due: str | None = None

    @field_validator("due")
    @classmethod
    def _due_is_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    def due_at(self, full_production_at: datetime | None) -> datetime | None:
        """When the item is due: `due` after full production (None before it, or no due)."""
        if self.due is None or full_production_at is None:
            return None
        return full_production_at + parse_duration(self.due)


class Checklist(BaseModel):
    """A named list of items, e.g. Code Readiness in the Pre-Migration Checklist."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1)
    section: str = Field(min_length=1)
    items: list[ChecklistItem] = Field(min_length=1)


class ItemStatus(StrEnum):
    """Where one item stands."""

    OPEN = "open"
    DONE = "done"
    FAILING = "failing"


@dataclass(frozen=True)
class ItemState:
    """An item with its current result (from the store)."""

    checklist: Checklist
    index: int
    item: ChecklistItem
    status: ItemStatus
    by: str | None = None
    at: datetime | None = None
    detail: str | None = None

    @property
    def done(self) -> bool:
        """True once checked by an owner or passed by its probe."""
        return self.status is ItemStatus.DONE


def open_items(states: list[ItemState]) -> list[ItemState]:
    """The items that are not done, in plan order."""
    return [s for s in states if not s.done]


@dataclass(frozen=True)
class Task:
    """A post-migration task that is not done yet, with its due date."""

    state: ItemState
    due_at: datetime

    def overdue(self, now: datetime) -> bool:
        """True once the due date has passed."""
        return now >= self.due_at


def open_tasks(states: Iterable[ItemState], full_production_at: datetime | None) -> list[Task]:
    """The items with a due date (counted from full production: a completed rollout's
    finish) that are not done, soonest first; none before full production. The card, the
    owners' reminders and the digest all ask this."""
    tasks = []
    for state in states:
        due = state.item.due_at(full_production_at)
        if due is not None and not state.done:
            tasks.append(Task(state, due))
    return sorted(tasks, key=lambda t: t.due_at)


def checklist_hold(checklists: list[Checklist], states: list[ItemState]) -> Message | None:
    """Why required checklists hold a gate (naming the open items), or None when complete."""
    parts: list[Message] = []
    for checklist in checklists:
        mine = [s for s in states if s.checklist.id == checklist.id]
        missing = open_items(mine)
        if not missing:
            continue
        names = ", ".join(s.item.text for s in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        parts.append(
            Message(
                "checklist ",
                Strong(checklist.title),
                f" has {len(missing)} of {len(checklist.items)} items open ({names}{more})",
            )
        )
    return Message.join("; ", parts) if parts else None
