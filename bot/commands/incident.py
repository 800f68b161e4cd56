"""`/incident`: declare, update, note, page, ack, publish, resolve, timeline, postmortem,
list, status, help — as text, shared by Slack and the shell.

Commands that act on one incident run in its channel; elsewhere they get the usage and
change nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC

from bot import wording
from bot.commands.reply import refusal_message
from bot.domain.actor import Actor
from bot.domain.errors import RollbotError
from bot.domain.incident import (
    SEVERITY_HINT,
    STATUS_HINT,
    Status,
    TimelineEvent,
    format_span,
    parse_severity,
    parse_status,
)
from bot.domain.message import Channel, Code, Link, Mention, Message, Sign, Strong, person
from bot.services.events import Said
from bot.services.incidents.service import IncidentService
from bot.services.incidents.views import IncidentView

USAGE = """*Usage:* `/incident <subcommand>`
• `/incident declare <sev1|sev2|sev3|sev4> <title> [--components a,b]` — declare an incident
  (in Slack, without arguments: a form)
• `/incident update <investigating|identified|monitoring|resolved> <message>` — new status
• `/incident publish` — publish the pending status update draft now
• `/incident note <text>` — add a note to the timeline
• `/incident ack` — acknowledge (stops the page escalating)
• `/incident page <role, contact or @person>` — bring someone in (a contact or person
  is paged through PagerDuty when configured; `/oncall` lists contacts)
• `/incident resolve [summary]` — resolve; drafts the post-mortem
• `/incident timeline` — the timeline so far
• `/incident postmortem [done]` — re-render the post-mortem draft, or mark it done
• `/incident status` — this incident (all open ones outside an incident channel)
• `/incident list` — open and recent incidents
• `/incident help` — this help
React with :pushpin: to a message in an incident channel to put it on the timeline."""

SUBCOMMANDS = (
    "declare",
    "update",
    "publish",
    "note",
    "ack",
    "page",
    "resolve",
    "timeline",
    "postmortem",
    "status",
    "list",
    "help",
)


@dataclass(frozen=True)
class IncidentReply:
    """A private answer: text, and optionally an incident card or a timeline to render."""

    text: str
    error: bool = False
    incident: IncidentView | None = None
    timeline: list[TimelineEvent] = field(default_factory=list)
    # When set, shown instead of `text` by each chat its own way (see `Reply.message`).
    message: Message | None = None


def said(
    message: Said,
    incident: IncidentView | None = None,
    timeline: list[TimelineEvent] | None = None,
) -> IncidentReply:
    """A reply that is a message, or an event in its words (each chat writes it its own
    way)."""
    text = wording.words(message)
    return IncidentReply(text.plain(), False, incident, timeline or [], text)


def refuse(message: str | Message, hint: str | Message = "", usage: str = "") -> IncidentReply:
    """A refusal: what is wrong, what would be right, the usage; nothing changed."""
    said = refusal_message(message, hint, usage)
    return IncidentReply(said.plain(), error=True, message=said)


def summary_line(v: IncidentView) -> Message:
    """One line about an incident, for lists."""
    state = f"open, {v.status}" if v.active else "resolved"
    line = Message(
        "• ",
        Strong(v.severity.upper()),
        f" {v.title}",
        Message(" ", Channel(v.channel_id)) if v.channel_id else "",
        f" — {state}",
        Message(", commander ", person(v.commander)) if v.commander else "",
        f", declared {v.declared_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
    )
    if v.postmortem_overdue:
        line += Message(" — ", Sign.WARNING, "post-mortem overdue")
    return line


_MENTION = re.compile(r"^<@([UW][A-Z0-9_]+)(?:\|[^>]*)?>$")


def page_target(text: str) -> str:
    """Who `/incident page` names: a role id as typed, or a user id from a Slack mention
    (`<@U1|carol>`), `@U1` or `U1`."""
    text = text.strip()
    match = _MENTION.match(text)
    if match:
        return match.group(1)
    return text[1:] if text.startswith("@") and text[1:2] in ("U", "W") else text


def _components(text: str) -> tuple[str, list[str]]:
    """A declaration's title, and the components named after `--components` (comma separated)."""
    title, marker, named = text.partition("--components")
    if not marker:
        return text, []
    return title.strip(), [c.strip() for c in named.split(",") if c.strip()]


def event_line(e: TimelineEvent) -> Message:
    """One timeline entry as a line."""
    return Message(
        Code(f"{e.at.astimezone(UTC):%H:%M:%S}"),
        " ",
        Strong(e.kind.value.replace("_", " ")),
        " ",
        e.message,
        Message(" — ", Mention(e.actor)) if e.actor[:1] in ("U", "W") else "",
        Message(" ", Link(e.permalink, "(message)")) if e.permalink else "",
    )


def run_incident(
    text: str, actor: Actor, service: IncidentService, channel_id: str | None = None
) -> IncidentReply:
    """Run `/incident <text>` for `actor`; never raises for bad input."""
    words = text.split()
    if not words or words[0].lower() in ("help", "-h", "--help"):
        return IncidentReply(USAGE)
    sub, rest = words[0].lower(), text.strip()[len(words[0]) :].strip()
    if sub not in SUBCOMMANDS:
        return refuse(
            f"`{sub}` is not an /incident subcommand.",
            "Subcommands: " + ", ".join(f"`{s}`" for s in SUBCOMMANDS) + ".",
            USAGE,
        )
    try:
        return _dispatch(sub, rest, actor, service, channel_id)
    except RollbotError as exc:
        return refuse(exc.message, exc.hint, "See `/incident help`.")


def _dispatch(
    sub: str, rest: str, actor: Actor, service: IncidentService, channel_id: str | None
) -> IncidentReply:
    args = rest.split()
    if sub == "declare":
        if len(args) < 2:
            raise RollbotError(
                "`/incident declare` needs a severity and a title.",
                f"Example: `/incident declare sev2 Checkout API errors`. {SEVERITY_HINT}",
            )
        severity = parse_severity(args[0])
        title, components = _components(rest[len(args[0]) :].strip())
        if not title:
            raise RollbotError(
                "`/incident declare` needs a title.",
                "Example: `/incident declare sev2 Checkout API errors --components api,web`.",
            )
        outcome = service.declare(
            severity, title, actor, components=components, origin_channel=channel_id
        )
        return said(outcome.text, incident=outcome.view)
    if sub == "update":
        if not args:
            raise RollbotError("`/incident update` needs a status and a message.", STATUS_HINT)
        status = parse_status(args[0])
        message = rest[len(args[0]) :].strip()
        if status is Status.RESOLVED:
            outcome = service.resolve_in(channel_id, message, actor)
        else:
            outcome = service.change_status(channel_id, status, message, actor)
        return said(outcome.text, incident=outcome.view)
    if sub == "publish":
        outcome = service.publish_pending(channel_id, actor)
        return said(outcome.text, incident=outcome.view)
    if sub == "note":
        return said(service.note(channel_id, rest, actor).text)
    if sub == "ack":
        view = service.in_channel_view(channel_id, "ack")
        return said(service.acknowledge(view.id, actor).text)
    if sub == "page":
        if not rest:
            raise RollbotError(
                "`/incident page` needs a role or a person.",
                "Example: `/incident page ops_lead` or `/incident page @carol`.",
            )
        return said(service.escalate(channel_id, page_target(rest), actor).text)
    if sub == "resolve":
        outcome = service.resolve_in(channel_id, rest, actor)
        return said(outcome.text, incident=outcome.view)
    if sub == "timeline":
        view, events = service.timeline_of(channel_id)
        return said(
            Message(Strong(f"Timeline of {view.title}"), f" ({len(events)} entries)"),
            incident=view,
            timeline=events,
        )
    if sub == "postmortem":
        if args and args != ["done"]:
            raise RollbotError(
                f"`{rest}` is not a postmortem option.",
                "Use `/incident postmortem` or `/incident postmortem done`.",
            )
        outcome = service.postmortem(channel_id, actor, done=bool(args))
        return said(outcome.text, incident=outcome.view)
    if sub == "status":
        return _status(service, channel_id)
    if sub == "list":
        views = service.incidents()
        if not views:
            return IncidentReply(
                "No incidents yet. Declare one with `/incident declare <sev> <title>`."
            )
        lines = [Message(Strong("Incidents"), " (open first):"), *map(summary_line, views)]
        return said(Message.join("\n", lines))
    return IncidentReply(USAGE)


def _status(service: IncidentService, channel_id: str | None) -> IncidentReply:
    try:
        view = service.in_channel_view(channel_id, "status")
    except RollbotError:
        open_ones = [v for v in service.incidents() if v.active]
        if not open_ones:
            return IncidentReply("No incident is open.")
        return said(Message.join("\n", map(summary_line, open_ones)))
    last = (
        f"last status update {format_span(service.clock.now() - view.last_update_at)} ago"
        if view.last_update_at
        else "no status update published yet"
    )
    return said(Message(summary_line(view), f"\n{last}."), incident=view)
