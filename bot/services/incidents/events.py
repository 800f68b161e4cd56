"""What happens to an incident, as events for replies, the incident channel, announcements
and direct messages (bot/wording/incidents.py words them).

The timeline entries kept in the database (and quoted by the post-mortem) keep their words
where they are written: they are a record, not a chat message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from bot.domain.actor import Actor
from bot.services.events import event

# -- command replies -------------------------------------------------------------------------


@event
@dataclass(frozen=True)
class IncidentDeclared:
    """An incident was declared (the declarer's reply)."""

    kind: ClassVar[str] = "incident.declared"
    severity: str
    title: str
    # Its channel, when the chat has channels.
    channel_id: str | None = None


@event
@dataclass(frozen=True)
class IncidentAcknowledged:
    """Someone took the incident (the reply)."""

    kind: ClassVar[str] = "incident.acknowledged"
    actor: Actor
    title: str


@event
@dataclass(frozen=True)
class NoteAdded:
    """A note went on the timeline (the reply)."""

    kind: ClassVar[str] = "incident.note_added"


@event
@dataclass(frozen=True)
class IncidentPaged:
    """`/incident page`: someone (a role, a contact, a person) was brought in (the reply)."""

    kind: ClassVar[str] = "incident.paged"
    # A role's or contact's name, or a chat user id when `person`.
    who: str
    person: bool = False
    # The PagerDuty incident opened for them, or why none was (None: reached in chat only).
    pagerduty_incident: str | None = None
    not_paged_because: str | None = None


@event
@dataclass(frozen=True)
class StatusChanged:
    """`/incident update`: the status changed and its update went out or waits (the reply)."""

    kind: ClassVar[str] = "incident.status_changed"
    status: str
    published: bool


@event
@dataclass(frozen=True)
class DraftPublished:
    """Publish was pressed: the update is out, or the status page did not take it yet."""

    kind: ClassVar[str] = "incident.draft_published"
    actor: Actor
    published: bool


@event
@dataclass(frozen=True)
class IncidentResolved:
    """The incident was resolved and its post-mortem drafted (the reply)."""

    kind: ClassVar[str] = "incident.resolved"
    title: str
    postmortem_due: datetime | None = None


@event
@dataclass(frozen=True)
class PostmortemRendered:
    """`/incident postmortem`: the draft was rendered again and uploaded."""

    kind: ClassVar[str] = "incident.postmortem_rendered"


@event
@dataclass(frozen=True)
class PostmortemDone:
    """`/incident postmortem done`: marked done, reminders stopped."""

    kind: ClassVar[str] = "incident.postmortem_done"


# -- the channel, announcements and direct messages ------------------------------------------


@event
@dataclass(frozen=True)
class IncidentAnnounced:
    """Where an incident is followed, told to the channel it was declared in and the
    announce channel."""

    kind: ClassVar[str] = "incident.announced"
    severity: str
    title: str
    channel_id: str


@event
@dataclass(frozen=True)
class NeededInIncident:
    """A direct message to someone paged into an incident."""

    kind: ClassVar[str] = "incident.needed"
    actor: Actor
    title: str
    severity: str
    channel_id: str | None = None


@event
@dataclass(frozen=True)
class GroupNeeded:
    """In the incident channel: a role held through a user group is needed."""

    kind: ClassVar[str] = "incident.group_needed"
    group_id: str
    # The role's or contact's name, or a chat user id when `person`.
    who: str
    person: bool = False


@event
@dataclass(frozen=True)
class StatusUpdatePublished:
    """In the incident channel: a status update is out (where, and after what trouble)."""

    kind: ClassVar[str] = "incident.status_published"
    status: str
    message: str
    provider: str
    # The primary status page (another `provider` means the fallback took it).
    primary: str
    failed_attempts: int = 0
    last_error: str | None = None


@event
@dataclass(frozen=True)
class StatusDeadlineMissed:
    """The first status update was not out in time (the channel, or the commander)."""

    kind: ClassVar[str] = "incident.status_deadline_missed"
    title: str
    limit: timedelta
    last_error: str | None = None
    to_commander: bool = False


@event
@dataclass(frozen=True)
class UpdateNudge:
    """No status update for a while (the channel, or the commander)."""

    kind: ClassVar[str] = "incident.update_nudge"
    title: str
    quiet: timedelta
    to_commander: bool = False


@event
@dataclass(frozen=True)
class PostmortemReminder:
    """The post-mortem is due soon (the channel and the commander)."""

    kind: ClassVar[str] = "incident.postmortem_reminder"
    title: str
    left: timedelta


@event
@dataclass(frozen=True)
class PostmortemOverdue:
    """The post-mortem is overdue (the channel, or the commander)."""

    kind: ClassVar[str] = "incident.postmortem_overdue"
    title: str
    to_commander: bool = False


# -- the card --------------------------------------------------------------------------------


@event
@dataclass(frozen=True)
class ContactReach:
    """How to reach an emergency contact: who holds it, its group and, where allowed, phone
    and email (a card line, an `/oncall` line)."""

    kind: ClassVar[str] = "incident.contact"
    title: str
    name: str
    users: tuple[str, ...] = ()
    group: str | None = None
    details: tuple[str, ...] = ()
