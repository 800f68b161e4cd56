"""What happens to an incident, as events for replies, the incident channel, announcements
and direct messages (bot/wording/incidents.py words them).

The timeline entries kept in the database (and quoted by the post-mortem) keep their words
where they are written: they are a record, not a chat message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.actor import Actor
from bot.services.events import Event

# -- command replies -------------------------------------------------------------------------


class IncidentDeclared(Event, kind="incident.declared"):
    """An incident was declared (the declarer's reply)."""

    severity: str
    title: str
    # Its channel, when the chat has channels.
    channel_id: str | None = None


class IncidentAcknowledged(Event, kind="incident.acknowledged"):
    """Someone took the incident (the reply)."""

    actor: Actor
    title: str


class NoteAdded(Event, kind="incident.note_added"):
    """A note went on the timeline (the reply)."""


class IncidentPaged(Event, kind="incident.paged"):
    """`/incident page`: someone (a role, a contact, a person) was brought in (the reply)."""

    # A role's or contact's name, or a chat user id when `person`.
    who: str
    person: bool = False
    # The PagerDuty incident opened for them, or why none was (None: reached in chat only).
    pagerduty_incident: str | None = None
    not_paged_because: str | None = None


class StatusChanged(Event, kind="incident.status_changed"):
    """`/incident update`: the status changed and its update went out or waits (the reply)."""

    status: str
    published: bool


class DraftPublished(Event, kind="incident.draft_published"):
    """Publish was pressed: the update is out, or the status page did not take it yet."""

    actor: Actor
    published: bool


class IncidentResolved(Event, kind="incident.resolved"):
    """The incident was resolved and its post-mortem drafted (the reply)."""

    title: str
    postmortem_due: datetime | None = None


class PostmortemRendered(Event, kind="incident.postmortem_rendered"):
    """`/incident postmortem`: the draft was rendered again and uploaded."""


class PostmortemDone(Event, kind="incident.postmortem_done"):
    """`/incident postmortem done`: marked done, reminders stopped."""


# -- the channel, announcements and direct messages ------------------------------------------


class IncidentAnnounced(Event, kind="incident.announced"):
    """Where an incident is followed, told to the channel it was declared in and the
    announce channel."""

    severity: str
    title: str
    channel_id: str


class NeededInIncident(Event, kind="incident.needed"):
    """A direct message to someone paged into an incident."""

    actor: Actor
    title: str
    severity: str
    channel_id: str | None = None


class GroupNeeded(Event, kind="incident.group_needed"):
    """In the incident channel: a role held through a user group is needed."""

    group_id: str
    # The role's or contact's name, or a chat user id when `person`.
    who: str
    person: bool = False


class StatusUpdatePublished(Event, kind="incident.status_published"):
    """In the incident channel: a status update is out (where, and after what trouble)."""

    status: str
    message: str
    provider: str
    # The primary status page (another `provider` means the fallback took it).
    primary: str
    failed_attempts: int = 0
    last_error: str | None = None


class StatusDeadlineMissed(Event, kind="incident.status_deadline_missed"):
    """The first status update was not out in time (the channel, or the commander)."""

    title: str
    limit: timedelta
    last_error: str | None = None
    to_commander: bool = False


class UpdateNudge(Event, kind="incident.update_nudge"):
    """No status update for a while (the channel, or the commander)."""

    title: str
    quiet: timedelta
    to_commander: bool = False


class PostmortemReminder(Event, kind="incident.postmortem_reminder"):
    """The post-mortem is due soon (the channel and the commander)."""

    title: str
    left: timedelta


class PostmortemOverdue(Event, kind="incident.postmortem_overdue"):
    """The post-mortem is overdue (the channel, or the commander)."""

    title: str
    to_commander: bool = False


# -- the card --------------------------------------------------------------------------------


class ContactReach(Event, kind="incident.contact"):
    """How to reach an emergency contact: who holds it, its group and, where allowed, phone
    and email (a card line, an `/oncall` line)."""

    title: str
    name: str
    users: tuple[str, ...] = ()
    group: str | None = None
    details: tuple[str, ...] = ()
