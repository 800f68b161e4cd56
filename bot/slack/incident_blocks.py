"""Block Kit for incidents: the pinned card, the commander's draft DM, the declare and edit
modals, and timelines split so that no message has more than 50 blocks or a section more
than 3000 characters. Everything goes through `slack_sdk.models` so `to_dict()` validates
the nested limits."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.commands.incident import event_line
from bot.domain.actions import Action, Emphasis
from bot.domain.incident import SEVERITIES, Impact, TimelineEvent
from bot.domain.message import Message, person
from bot.services.incidents.views import (
    DraftView,
    IncidentView,
)
from bot.slack.actions import action_id, button_style
from bot.slack.blocks import (
    MAX_BLOCKS,
    MAX_BUTTON_LABEL,
    MAX_FIELD_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    Blocks,
    slack_date,
    truncate,
)
from bot.slack.mrkdwn import escape, mrkdwn
from bot.wording import words

DECLARE_MODAL = "incident_declare_modal"
EDIT_MODAL = "incident_edit_modal"
SEVERITY_EMOJI = {
    "sev1": ":red_circle:",
    "sev2": ":large_orange_circle:",
    "sev3": ":large_yellow_circle:",
    "sev4": ":white_circle:",
}
MAX_TIMELINE_MESSAGES = 5  # a response_url takes five messages
MAX_MESSAGE_CHARS = 36_000  # under Slack's 40,000 characters per message, with the header


def _who(user: str | None) -> str:
    return mrkdwn(Message(person(user))) if user else "—"


def _field(label: str, value: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=truncate(f"*{label}*\n{value}", MAX_FIELD_TEXT))


def card_text(view: IncidentView) -> str:
    """Fallback text of the card."""
    return truncate(
        f"{view.severity.upper()} incident: {escape(view.title)} ({view.status}, {view.state})",
        3000,
    )


def _update_text(view: IncidentView) -> str:
    if view.last_update_at is None:
        due = view.status_deadline
        return f"none yet — due {slack_date(due)}"
    text = f"last {slack_date(view.last_update_at)}"
    if view.active and view.next_update_due is not None:
        text += f"\nnext due {slack_date(view.next_update_due)}"
    return text


def incident_card(view: IncidentView) -> Blocks:
    """The incident's pinned card, edited in place as the incident changes."""
    emoji = SEVERITY_EMOJI.get(view.severity, "")
    state = "Resolved" if not view.active else view.status.capitalize()
    blocks: list[Block] = [
        HeaderBlock(
            block_id=f"incident-{view.id}-header",
            text=PlainTextObject(
                text=truncate(f"{view.severity.upper()}: {view.title}", MAX_HEADER_TEXT)
            ),
        ),
        SectionBlock(
            block_id=f"incident-{view.id}-fields",
            fields=[
                _field("Status", f"{emoji} {state}"),
                _field("Commander", _who(view.commander)),
                _field(
                    "Impact",
                    escape(
                        view.impact
                        + (f" — {', '.join(view.components)}" if view.components else "")
                    ),
                ),
                _field("Status page", _update_text(view)),
                _field("Declared", f"{slack_date(view.declared_at)} by {_who(view.declared_by)}"),
                _field(
                    "Acknowledged",
                    slack_date(view.acknowledged_at) if view.acknowledged_at else "not yet",
                ),
            ],
        ),
    ]
    if not view.active:
        pm = "done" if view.postmortem_done else "draft uploaded"
        if view.postmortem_due and not view.postmortem_done:
            pm += f", due {slack_date(view.postmortem_due)}"
        if view.postmortem_overdue:
            pm = ":warning: *overdue* — " + pm
        summary = f"*Summary:* {escape(view.summary)}\n" if view.summary else ""
        blocks.append(
            SectionBlock(
                block_id=f"incident-{view.id}-closed",
                text=MarkdownTextObject(
                    text=truncate(f"{summary}*Post-mortem:* {pm}", MAX_SECTION_TEXT)
                ),
            )
        )
    if view.active and view.contacts:
        lines = "\n".join(mrkdwn(words(line)) for line in view.contacts)
        blocks.append(
            SectionBlock(
                block_id=f"incident-{view.id}-contacts",
                text=MarkdownTextObject(text=truncate(f"*Contacts*\n{lines}", MAX_SECTION_TEXT)),
            )
        )
    context = f"`{view.key}` · `/incident help` · :pushpin: a message to add it to the timeline"
    if view.rollout_id is not None:
        context += f" · rollout #{view.rollout_id}"
    blocks.append(
        ContextBlock(
            block_id=f"incident-{view.id}-context",
            elements=[MarkdownTextObject(text=truncate(context, 2000))],
        )
    )
    if view.buttons:
        elements = []
        for b in view.buttons:
            confirm = None
            if b.action is Action.RESOLVE:
                confirm = ConfirmObject(
                    title="Resolve the incident?",
                    text="This pages resolved, publishes `resolved` and drafts the post-mortem.",
                    confirm="Resolve",
                    deny="Cancel",
                )
            elements.append(
                ButtonElement(
                    text=PlainTextObject(text=truncate(b.label, MAX_BUTTON_LABEL)),
                    action_id=action_id(b.action),
                    value=b.value,
                    style=button_style(b.emphasis),
                    confirm=confirm,
                )
            )
        blocks.append(ActionsBlock(block_id=f"incident-{view.id}-actions", elements=elements))
    return [b.to_dict() for b in blocks]


def draft_blocks(draft: DraftView) -> Blocks:
    """The commander's DM: the draft, when it goes out by itself, Publish / Edit."""
    if draft.state == "published":
        where = f" to {draft.provider_used}" if draft.provider_used else ""
        head = (
            f":white_check_mark: *Status update published{where}* {slack_date(draft.published_at)}"
            if draft.published_at
            else ":white_check_mark: *Published*"
        )
    elif draft.state in ("superseded", "failed"):
        head = f"*Status update {draft.state}.*"
    else:
        head = (
            f":memo: *Draft status update for {escape(draft.incident_title)}* "
            f"({draft.status}, impact {draft.impact})"
        )
        if draft.auto_publish_at is not None:
            head += (
                f"\nrollbot publishes it {slack_date(draft.auto_publish_at)} unless you do first."
            )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=truncate(head, MAX_SECTION_TEXT))),
        SectionBlock(
            text=MarkdownTextObject(text=truncate(f">{escape(draft.message)}", MAX_SECTION_TEXT))
        ),
    ]
    if draft.state in ("draft", "queued"):
        value = draft.button_value()
        blocks.append(
            ActionsBlock(
                block_id=f"draft-{draft.id}-actions",
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text="Publish"),
                        action_id=action_id(Action.PUBLISH),
                        value=value,
                        style=button_style(Emphasis.CONFIRM),
                    ),
                    ButtonElement(
                        text=PlainTextObject(text="Edit"),
                        action_id=action_id(Action.EDIT),
                        value=value,
                    ),
                ],
            )
        )
    return [b.to_dict() for b in blocks]


def _options(values: tuple[str, ...]) -> list[Option]:
    return [Option(text=v, value=v) for v in values]


def declare_modal(channel_id: str | None) -> dict[str, Any]:
    """The form `/incident declare` opens without arguments."""
    impacts = tuple(i.value for i in Impact)
    view = View(
        type="modal",
        callback_id=DECLARE_MODAL,
        private_metadata=channel_id or "",
        title=PlainTextObject(text="Declare an incident"),
        submit=PlainTextObject(text="Declare"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            InputBlock(
                block_id="title",
                label="Title",
                element=PlainTextInputElement(
                    action_id="title", max_length=200, placeholder="Checkout API errors"
                ),
            ),
            InputBlock(
                block_id="severity",
                label="Severity",
                element=StaticSelectElement(
                    action_id="severity",
                    options=_options(SEVERITIES),
                    initial_option=Option(text="sev3", value="sev3"),
                ),
            ),
            InputBlock(
                block_id="impact",
                label="Impact",
                optional=True,
                element=StaticSelectElement(action_id="impact", options=_options(impacts)),
            ),
            InputBlock(
                block_id="components",
                label="Affected components (comma separated)",
                optional=True,
                element=PlainTextInputElement(action_id="components", max_length=500),
            ),
        ],
    )
    return view.to_dict()


def edit_modal(draft: DraftView) -> dict[str, Any]:
    """The form behind a draft's Edit button."""
    view = View(
        type="modal",
        callback_id=EDIT_MODAL,
        private_metadata=str(draft.id),
        title=PlainTextObject(text="Edit status update"),
        submit=PlainTextObject(text="Save draft"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            InputBlock(
                block_id="message",
                label=f"Status update ({draft.status})",
                element=PlainTextInputElement(
                    action_id="message",
                    multiline=True,
                    max_length=3000,
                    initial_value=draft.message[:3000],
                ),
            )
        ],
    )
    return view.to_dict()


def timeline_messages(title: str, events: list[TimelineEvent]) -> list[Blocks]:
    """The timeline as messages of at most 50 blocks, sections of at most 3000 characters
    and at most 40,000 characters in all (Slack's message size).

    Lines are packed into sections and sections into messages; when more messages would be
    needed than a response can carry, the oldest entries are left out and the first message
    says how many.
    """
    sections: list[tuple[str, int]] = []  # (text, number of events in it)
    current, count = "", 0
    for event in events:
        line = truncate(mrkdwn(event_line(event)), MAX_SECTION_TEXT)
        if current and len(current) + 1 + len(line) > MAX_SECTION_TEXT:
            sections.append((current, count))
            current, count = "", 0
        current, count = (f"{current}\n{line}" if current else line), count + 1
    if current:
        sections.append((current, count))
    groups: list[list[tuple[str, int]]] = [[]]
    size = 0
    for section in reversed(sections):  # newest first, so the oldest are the ones cut
        full = len(groups[-1]) >= MAX_BLOCKS - 1 or size + len(section[0]) > MAX_MESSAGE_CHARS
        if full:
            groups.append([])
            size = 0
        groups[-1].insert(0, section)
        size += len(section[0])
    groups.reverse()
    kept = groups[-MAX_TIMELINE_MESSAGES:]
    left_out = sum(n for group in groups[:-MAX_TIMELINE_MESSAGES] for _, n in group)
    messages: list[Blocks] = []
    for number, group in enumerate(kept, start=1):
        head = f"*{title}*" + (f" (part {number}/{len(kept)})" if len(kept) > 1 else "")
        if number == 1 and left_out:
            head += f"\n_{left_out} older entries left out; the post-mortem has them all._"
        if not group:
            head += "\nNothing on the timeline yet."
        blocks = [SectionBlock(text=MarkdownTextObject(text=truncate(head, MAX_SECTION_TEXT)))]
        blocks += [SectionBlock(text=MarkdownTextObject(text=text)) for text, _ in group]
        messages.append([b.to_dict() for b in blocks])
    return messages
