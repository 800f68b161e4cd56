"""What a digest says, as data: each section a tuple of small records, empty when it has
nothing to report. Chats render it their own way (bot/slack/digest_blocks.py from the
Jinja2 template, bot/shell/digest.py as text)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.message import Message
from bot.services.events import Said


class ScoreVerdict(StrEnum):
    """How one success metric scores."""

    MET = "met"
    MISSED = "missed"
    NO_DATA = "no data"


@dataclass(frozen=True)
class TriggerValue:
    """A rollback trigger's latest evaluation against its threshold."""

    name: str
    rule: str  # e.g. "> 0.01"
    value: str  # the measured value as people read it, or "no data"
    breaching: bool
    evaluated_at: datetime | None
    error: str | None = None


@dataclass(frozen=True)
class Score:
    """One success metric of the plan, measured now."""

    name: str
    description: str
    rule: str
    value: str
    verdict: ScoreVerdict
    # Why there is no data (the provider is `none`, down, or answered nothing).
    why: str | None = None


@dataclass(frozen=True)
class RolloutEntry:
    """An active rollout: where it is, when it moves on, what holds it, its triggers and
    its plan's scorecard."""

    id: int
    flag_key: str
    plan_title: str
    state: str
    phase_name: str
    percentage: int
    step_number: int
    step_count: int
    step_name: str
    next_step: str | None
    next_percentage: int | None
    due_at: datetime | None
    auto_advance: bool
    waiting_for: Said  # what the card's waiting line says, without its holds
    holds: tuple[Message, ...] = ()
    triggers: tuple[TriggerValue, ...] = ()
    scorecard: tuple[Score, ...] = ()


@dataclass(frozen=True)
class SignoffWaiting:
    """A sign-off asked for and not given yet."""

    flag_key: str
    gate_title: str
    role_name: str
    holders: tuple[str, ...]  # user ids of the role's members
    usergroup: str | None
    waiting: timedelta
    reminders_sent: int
    escalated: bool


@dataclass(frozen=True)
class IncidentEntry:
    """An open incident."""

    key: str
    title: str
    severity: str
    status: str
    age: timedelta
    commander: str | None
    channel_id: str | None
    since_update: timedelta | None  # None: no status update published yet
    first_update_late: bool  # no status update and its deadline has passed
    first_update_due: datetime


@dataclass(frozen=True)
class PostmortemDue:
    """A post-mortem due within the next day, or overdue."""

    incident_key: str
    title: str
    due_at: datetime
    overdue: bool
    channel_id: str | None


@dataclass(frozen=True)
class OverdueItem:
    """A checklist item past its due date (post-migration tasks count from full
    production)."""

    flag_key: str
    checklist_title: str
    text: str
    owner: str
    due_at: datetime


@dataclass(frozen=True)
class Digest:
    """A digest at one moment: `slot_at` is the slot it was posted for (None when shown on
    demand) and `late` says it was posted after a restart, later than its slot."""

    name: str
    at: datetime
    timezone: str = "UTC"
    slot_at: datetime | None = None
    late: bool = False
    rollouts: tuple[RolloutEntry, ...] = ()
    signoffs: tuple[SignoffWaiting, ...] = ()
    incidents: tuple[IncidentEntry, ...] = ()
    postmortems: tuple[PostmortemDue, ...] = ()
    overdue_items: tuple[OverdueItem, ...] = ()

    @property
    def quiet(self) -> bool:
        """True when no section has anything to say."""
        return not (
            self.rollouts
            or self.signoffs
            or self.incidents
            or self.postmortems
            or self.overdue_items
        )

    @property
    def late_incidents(self) -> tuple[IncidentEntry, ...]:
        """Open incidents whose first status update is late."""
        return tuple(i for i in self.incidents if i.first_update_late)


QUIET = "Nothing to report: no active rollouts, no sign-offs waiting, no open incidents."
