"""`/incident`: declare, update, note, page, ack, publish, resolve, timeline, postmortem,
list, status, help — as text, shared by Slack and the shell.

Commands that act on one incident run in its channel; elsewhere they get the usage and
change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC

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
from bot.domain.message import Message
from bot.services.incidents.service import IncidentService
from bot.services.incidents.views import IncidentView

USAGE = """*Usage:* `/incident <subcommand>`
• `/incident declare <sev1|sev2|sev3|sev4> <title>` — declare an incident (no arguments: a form)
• `/incident update <investigating|identified|monitoring|resolved> <message>` — new status
• `/incident publish` — publish the pending status update draft now
• `/incident note <text>` — add a note to the timeline
• `/incident ack` — acknowledge (stops the page escalating)
• `/incident page <role or @person>` — bring someone in
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


def refuse(message: str | Message, hint: str | Message = "", usage: str = "") -> IncidentReply:
    """A refusal: what is wrong, what would be right, the usage; nothing changed."""
    said = refusal_message(message, hint, usage)
    return IncidentReply(said.plain(), error=True, message=said)


def summary_line(v: IncidentView) -> str:
    """One line about an incident, for lists."""
    where = f" <#{v.channel_id}>" if v.channel_id else ""
    state = "open" if v.active else "resolved"
    commander = f", commander <@{v.commander}>" if v.commander else ""
    line = (
        f"• *{v.severity.upper()}* {v.title}{where} — {state}, {v.status}{commander}, "
        f"declared {v.declared_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    )
    if v.postmortem_overdue:
        line += " — :warning: post-mortem overdue"
    return line


def event_line(e: TimelineEvent) -> str:
    """One timeline entry as a line of mrkdwn."""
    who = f" — <@{e.actor}>" if e.actor[:1] in ("U", "W") else ""
    link = f" <{e.permalink}|(message)>" if e.permalink else ""
    return (
        f"`{e.at.astimezone(UTC):%H:%M:%S}` *{e.kind.value.replace('_', ' ')}* {e.text}{who}{link}"
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
        title = rest[len(args[0]) :].strip()
        outcome = service.declare(severity, title, actor, origin_channel=channel_id)
        return IncidentReply(outcome.text, incident=outcome.view)
    if sub == "update":
        if not args:
            raise RollbotError("`/incident update` needs a status and a message.", STATUS_HINT)
        status = parse_status(args[0])
        message = rest[len(args[0]) :].strip()
        if status is Status.RESOLVED:
            outcome = service.resolve_in(channel_id, message, actor)
        else:
            outcome = service.change_status(channel_id, status, message, actor)
        return IncidentReply(outcome.text, incident=outcome.view)
    if sub == "publish":
        outcome = service.publish_pending(channel_id, actor)
        return IncidentReply(outcome.text, incident=outcome.view)
    if sub == "note":
        return IncidentReply(service.note(channel_id, rest, actor).text)
    if sub == "ack":
        view = service.in_channel_view(channel_id, "ack")
        return IncidentReply(service.acknowledge(view.id, actor).text)
    if sub == "page":
        if not rest:
            raise RollbotError(
                "`/incident page` needs a role or a person.",
                "Example: `/incident page ops_lead` or `/incident page @carol`.",
            )
        return IncidentReply(service.escalate(channel_id, rest, actor).text)
    if sub == "resolve":
        outcome = service.resolve_in(channel_id, rest, actor)
        return IncidentReply(outcome.text, incident=outcome.view)
    if sub == "timeline":
        view, events = service.timeline_of(channel_id)
        return IncidentReply(
            f"*Timeline of {view.title}* ({len(events)} entries)", incident=view, timeline=events
        )
    if sub == "postmortem":
        if args and args != ["done"]:
            raise RollbotError(
                f"`{rest}` is not a postmortem option.",
                "Use `/incident postmortem` or `/incident postmortem done`.",
            )
        outcome = service.postmortem(channel_id, actor, done=bool(args))
        return IncidentReply(outcome.text, incident=outcome.view)
    if sub == "status":
        return _status(service, channel_id)
    if sub == "list":
        views = service.incidents()
        if not views:
            return IncidentReply(
                "No incidents yet. Declare one with `/incident declare <sev> <title>`."
            )
        return IncidentReply(
            "*Incidents* (open first):\n" + "\n".join(summary_line(v) for v in views)
        )
    return IncidentReply(USAGE)


def _status(service: IncidentService, channel_id: str | None) -> IncidentReply:
    try:
        view = service.in_channel_view(channel_id, "status")
    except RollbotError:
        open_ones = [v for v in service.incidents() if v.active]
        if not open_ones:
            return IncidentReply("No incident is open.")
        return IncidentReply("\n".join(summary_line(v) for v in open_ones))
    last = (
        f"last status update {format_span(service.clock.now() - view.last_update_at)} ago"
        if view.last_update_at
        else "no status update published yet"
    )
    return IncidentReply(f"{summary_line(view)}\n{last}.", incident=view)
