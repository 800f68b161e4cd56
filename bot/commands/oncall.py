"""`/oncall`: who is on call now and how to reach each emergency contact, as text shared
by Slack and the shell. Always a private reply: it carries phones and emails."""

from __future__ import annotations

from bot.commands.incident import IncidentReply, said
from bot.domain.errors import RollbotError
from bot.domain.message import Code, Mention, Message, Part, Sign, Strong
from bot.services.incidents.contacts import ContactNow, reach
from bot.services.incidents.service import IncidentService
from bot.wording import words

USAGE = """*Usage:* `/oncall`
Who is on call now (asked from PagerDuty when it is configured) and how to reach each
emergency contact of the config's `contacts:`. Page one with `/incident page <contact>` in an
incident channel. Only you see the answer."""


def run_oncall(text: str, service: IncidentService) -> IncidentReply:
    """Answer `/oncall [help]`."""
    word = text.strip().lower()
    if word in ("help", "-h", "--help"):
        return IncidentReply(USAGE)
    if word:
        raise RollbotError(
            Message(Code("/oncall"), " takes no arguments."),
            Message("Type ", Code("/oncall"), " alone; ", Code("/oncall help"), " explains it."),
        )
    contacts = service.on_call()
    if not contacts:
        return IncidentReply(
            "No emergency contacts are configured and PagerDuty is not set up: add `contacts:` "
            "(and `paging.pagerduty`) to the config; see config/rollbot.example.yaml."
        )
    lines = [Message(Strong("Emergency contacts"), " (only you can see this):")]
    lines += [Message("• ", contact_line(c)) for c in contacts]
    lines.append(
        Message("Page one in an incident channel: ", Code("/incident page <contact>"), ".")
    )
    return said(Message.join("\n", lines))


def contact_line(now: ContactNow) -> Message:
    """A contact, how to reach it, and who is on call for it now."""
    line = words(reach(now.contact, now.holders, now.group, details=True))
    if now.on_call is not None:
        who: Part = Mention(now.on_call_user) if now.on_call_user else now.on_call.name
        email = f" ({now.on_call.email})" if now.on_call.email else ""
        return Message(line, " — on call now: ", who, email)
    if now.problem is not None:
        return Message(line, " — ", Sign.WARNING, f"who is on call is unknown: {now.problem}")
    c = now.contact
    if c.pagerduty_schedule or c.pagerduty_escalation_policy:
        return Message(line, " — nobody is on call in PagerDuty")
    return line
