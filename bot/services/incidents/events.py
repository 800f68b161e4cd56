"""What happens to an incident, as events for replies, the incident channel, announcements
and direct messages (bot/wording/incidents.py words them).

The timeline entries kept in the database (and quoted by the post-mortem) keep their words
where they are written: they are a record, not a chat message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.actor import Actor
from bot.services.events import event

# -- command replies -------------------------------------------------------------------------


@event("incident.declared")
class IncidentDeclared:
    """An incident was declared (the declarer's reply)."""

    severity: str
    title: str
    # Its channel, when the chat has channels.
    channel_id: str | None = None


@event("incident.acknowledged")
class IncidentAcknowledged:
    """Someone took the incident (the reply)."""

    actor: Actor
    title: str


@event("incident.note_added")
class NoteAdded:
    """A note went on the timeline (the reply)."""


@event("incident.paged")
class IncidentPaged:
    """`/incident page`: someone (a role, a contact, a person) was brought in (the reply)."""

    # A role's or contact's name, or a chat user id when `person`.
    who: str
    person: bool = False
    # The PagerDuty incident opened for them, or why none was (None: reached in chat only).
    pagerduty_incident: str | None = None
    not_paged_because: str | None = None


@event("incident.status_changed")
class StatusChanged:
    """`/incident update`: the status changed and its update went out or waits (the reply)."""

    status: str
    published: bool


@event("incident.draft_published")
class DraftPublished:
    """Publish was pressed: the update is out, or the status page did not take it yet."""

    actor: Actor
    published: bool


@event("incident.resolved")
class IncidentResolved:
    """The incident was resolved and its post-mortem drafted (the reply)."""

    title: str
    postmortem_due: datetime | None = None


@event("incident.postmortem_rendered")
class PostmortemRendered:
    """`/incident postmortem`: the draft was rendered again and uploaded."""


@event("incident.postmortem_done")
class PostmortemDone:
    """`/incident postmortem done`: marked done, reminders stopped."""


# -- the channel, announcements and direct messages ------------------------------------------


@event("incident.announced")
class IncidentAnnounced:
    """Where an incident is followed, told to the channel it was declared in and the
    announce channel."""

    severity: str
    title: str
    channel_id: str


@event("incident.needed")
class NeededInIncident:
    """A direct message to someone paged into an incident."""

    actor: Actor
    title: str
    severity: str
    channel_id: str | None = None


@event("incident.group_needed")
class GroupNeeded:
    """In the incident channel: a role held through a user group is needed."""

    group_id: str
    # The role's or contact's name, or a chat user id when `person`.
    who: str
    person: bool = False


@event("incident.status_published")
class StatusUpdatePublished:
    """In the incident channel: a status update is out (where, and after what trouble)."""

    status: str
    message: str
    provider: str
    # The primary status page (another `provider` means the fallback took it).
    primary: str
    failed_attempts: int = 0
    last_error: str | None = None


@event("incident.status_deadline_missed")
class StatusDeadlineMissed:
    """The first status update was not out in time (the channel, or the commander)."""

    title: str
    limit: timedelta
    last_error: str | None = None
    to_commander: bool = False


@event("incident.update_nudge")
class UpdateNudge:
    """No status update for a while (the channel, or the commander)."""

    title: str
    quiet: timedelta
    to_commander: bool = False


@event("incident.postmortem_reminder")
class PostmortemReminder:
    """The post-mortem is due soon (the channel and the commander)."""

    title: str
    left: timedelta


@event("incident.postmortem_overdue")
class PostmortemOverdue:
    """The post-mortem is overdue (the channel, or the commander)."""

    title: str
    to_commander: bool = False


# -- the card --------------------------------------------------------------------------------


@event("incident.contact")
class ContactReach:
    """How to reach an emergency contact: who holds it, its group and, where allowed, phone
    and email (a card line, an `/oncall` line)."""

    title: str
    name: str
    users: tuple[str, ...] = ()
    group: str | None = None
    details: tuple[str, ...] = ()
