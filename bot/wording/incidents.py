"""The words of incidents: command replies, the incident channel's posts, announcements,
direct messages (pages, nudges, reminders) and the card's contact lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.domain.durations import format_duration
from bot.domain.message import Channel, Code, GroupMention, Mention, Message, Part, Sign, Strong
from bot.services.events import Event
from bot.services.incidents.events import (
    ContactReach,
    DraftPublished,
    GroupNeeded,
    IncidentAcknowledged,
    IncidentAnnounced,
    IncidentDeclared,
    IncidentPaged,
    IncidentResolved,
    NeededInIncident,
    NoteAdded,
    PostmortemDone,
    PostmortemOverdue,
    PostmortemReminder,
    PostmortemRendered,
    StatusChanged,
    StatusDeadlineMissed,
    StatusUpdatePublished,
    UpdateNudge,
)

UPDATE_COMMAND = "/incident update <investigating|identified|monitoring|resolved> <message>"
POSTMORTEM_DONE = "/incident postmortem done"


def _who(who: str, person: bool) -> Part:
    return Mention(who) if person else who


# -- command replies -------------------------------------------------------------------------


def declared(e: IncidentDeclared) -> Message:
    """The declarer's reply."""
    where = Message(" in ", Channel(e.channel_id)) if e.channel_id else ""
    return Message(f"Declared {e.severity.upper()} ", Strong(e.title), where, ".")


def acknowledged(e: IncidentAcknowledged) -> Message:
    """The reply to an acknowledgement."""
    return Message(e.actor.named, " acknowledged ", Strong(e.title), ".")


def note_added(e: NoteAdded) -> Message:
    """The reply to `/incident note`."""
    return Message("Added to the timeline.")


def paged(e: IncidentPaged) -> Message:
    """The reply to `/incident page`."""
    if e.pagerduty_incident is not None:
        how = Message(" through PagerDuty (incident ", Code(e.pagerduty_incident), ")")
    elif e.not_paged_because:
        how = Message(f" (not through PagerDuty: {e.not_paged_because})")
    else:
        how = Message()
    return Message("Paged ", _who(e.who, e.person), how, ".")


def status_changed(e: StatusChanged) -> Message:
    """The reply to `/incident update`."""
    tail = "published" if e.published else "queued (the status page did not answer; retrying)"
    return Message("Status is now ", Strong(e.status), f"; update {tail}.")


def draft_published(e: DraftPublished) -> Message:
    """The reply to Publish (the button or `/incident publish`)."""
    if e.published:
        return Message("Status update published by ", e.actor.named, ".")
    return Message("The status page did not take it yet; rollbot keeps retrying (see the card).")


def resolved(e: IncidentResolved) -> Message:
    """The reply to `/incident resolve`."""
    due = e.postmortem_due
    when = f" (due {due:%Y-%m-%d %H:%M} UTC)" if due else ""
    return Message("Resolved ", Strong(e.title), f". Post-mortem draft uploaded{when}.")


def postmortem_rendered(e: PostmortemRendered) -> Message:
    """The reply to `/incident postmortem`."""
    return Message("Post-mortem re-rendered from the timeline and uploaded.")


def postmortem_done(e: PostmortemDone) -> Message:
    """The reply to `/incident postmortem done`."""
    return Message("Post-mortem marked done; reminders stopped.")


# -- the channel, announcements and direct messages ------------------------------------------


def announced(e: IncidentAnnounced) -> Message:
    """Where an incident is followed."""
    return Message(
        Sign.INCIDENT,
        f"{e.severity.upper()} incident declared: ",
        Strong(e.title),
        " — follow it in ",
        Channel(e.channel_id),
        ".",
    )


def needed(e: NeededInIncident) -> Message:
    """The direct message to someone paged."""
    return Message(
        Sign.INCIDENT,
        e.actor.named,
        " needs you in incident ",
        Strong(e.title),
        f" ({e.severity.upper()})",
        Message(": ", Channel(e.channel_id)) if e.channel_id else ".",
    )


def group_needed(e: GroupNeeded) -> Message:
    """A user group called into the incident channel."""
    return Message(
        Sign.INCIDENT, GroupMention(e.group_id), " ", _who(e.who, e.person), " is needed here."
    )


def status_published(e: StatusUpdatePublished) -> Message:
    """A status update is out; which page took it is news only when it was not the first
    try on the primary."""
    trouble = ""
    if e.failed_attempts:
        n = e.failed_attempts
        failed = f"{n} failed attempt{'s' if n != 1 else ''}"
        if e.provider != e.primary:
            trouble = f", the fallback: {e.primary} was down ({failed}; last: {e.last_error})"
        else:
            trouble = f", after {failed} (last: {e.last_error})"
    via = f" to {e.provider}{trouble}" if trouble else ""
    return Message(Sign.ANNOUNCE, f"Status update published{via} ({e.status}): ", e.message)


def status_deadline_missed(e: StatusDeadlineMissed) -> Message:
    """The first status update is late."""
    why = f" Last error: {e.last_error}" if e.last_error else ""
    limit = format_duration(e.limit)
    text = f"The first status update was not published within {limit} of declaration.{why}"
    if e.to_commander:
        return Message(Sign.INCIDENT, f"{e.title}: {text}")
    return Message(Sign.INCIDENT, text, " rollbot keeps trying.")


def update_nudge(e: UpdateNudge) -> Message:
    """No status update for a while."""
    text = Message(
        f"No status update for {format_duration(e.quiet)}. Post one with ",
        Code(UPDATE_COMMAND),
        ".",
    )
    if e.to_commander:
        return Message(Sign.REMINDER, f"{e.title}: ", text)
    return Message(Sign.REMINDER, text)


def postmortem_reminder(e: PostmortemReminder) -> Message:
    """The post-mortem is due soon."""
    return Message(
        Sign.POSTMORTEM,
        Message(
            "The post-mortem of ",
            Strong(e.title),
            f" is due in {format_duration(e.left)}. Fill in the draft, then mark it done with ",
            Code(POSTMORTEM_DONE),
            ".",
        ),
    )


def postmortem_overdue(e: PostmortemOverdue) -> Message:
    """The post-mortem is overdue."""
    text = Message("The post-mortem of ", Strong(e.title), " is overdue.")
    if e.to_commander:
        return Message(Sign.WARNING, text)
    return Message(Sign.WARNING, text, " Mark it done with ", Code(POSTMORTEM_DONE), ".")


# -- the card --------------------------------------------------------------------------------


def contact(e: ContactReach) -> Message:
    """How to reach a contact: who holds it, its group and, when allowed, phone and email."""
    parts: list[Part | Message] = [Strong(e.title), " (", Code(e.name), ")"]
    people: list[Part] = [Mention(u) for u in e.users]
    if e.group:
        people.append(GroupMention(e.group))
    if people:
        parts += [": ", Message.join(", ", people)]
    if e.details:
        parts += [" · ", " · ".join(e.details)]
    return Message(*parts)


WORDS: dict[type[Event], Callable[[Any], Message]] = {
    IncidentDeclared: declared,
    IncidentAcknowledged: acknowledged,
    NoteAdded: note_added,
    IncidentPaged: paged,
    StatusChanged: status_changed,
    DraftPublished: draft_published,
    IncidentResolved: resolved,
    PostmortemRendered: postmortem_rendered,
    PostmortemDone: postmortem_done,
    IncidentAnnounced: announced,
    NeededInIncident: needed,
    GroupNeeded: group_needed,
    StatusUpdatePublished: status_published,
    StatusDeadlineMissed: status_deadline_missed,
    UpdateNudge: update_nudge,
    PostmortemReminder: postmortem_reminder,
    PostmortemOverdue: postmortem_overdue,
    ContactReach: contact,
}
