"""Block Kit builders: a rollout card and ephemeral replies, always within Slack's limits.

Builders go through `slack_sdk.models.blocks` so nested limits are validated by `to_dict()`;
the 50-blocks-per-message limit and section text length are enforced here, because nothing
else checks them and Slack rejects the whole message when they are exceeded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.commands.reply import Reply
from bot.domain.message import Message, person
from bot.services.events import Said
from bot.services.rollouts.views import RolloutView
from bot.slack.actions import action_id, button_style
from bot.slack.mrkdwn import mrkdwn
from bot.wording import waiting_line, words

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_LABEL = 75
MAX_CONTEXT_TEXT = 2000
MAX_FALLBACK_TEXT = 3000
MAX_NOTES = 5  # keeps a card at most 10 blocks, so several fit in one reply

Blocks = list[dict[str, Any]]


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marked with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def slack_date(when: datetime) -> str:
    """A date Slack shows in each reader's own time zone, with a UTC fallback."""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    epoch = int(aware.timestamp())
    fallback = aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"


def chat_text(text: str | Said) -> str:
    """Slack text of a reply or event: an event in its words (bot/wording/) and a `Message`
    in mrkdwn; a str is mrkdwn already."""
    return text if isinstance(text, str) else mrkdwn(words(text))


def card_text(view: RolloutView) -> str:
    """The plain fallback text of a card (notifications, screen readers)."""
    state = view.state.value.replace("_", " ")
    return truncate(
        f"Rollout of {view.flag_key}: {view.percentage}% ({state}), "
        f"{view.phase_name}, step {view.step_number}/{view.step_count}. "
        f"{mrkdwn(waiting_line(view))}",
        MAX_FALLBACK_TEXT,
    )


def _next_text(view: RolloutView) -> str:
    if view.next_step is None:
        return "— (this is the last step)"
    text = f"{view.next_step} ({view.next_percentage}%)"
    if view.due_at is not None:
        how = "advances by itself" if view.auto_advance else "can be advanced"
        text += f"\n{how} {slack_date(view.due_at)}"
    else:
        text += "\nwhen someone advances it"
    return text


def _field(label: str, value: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=truncate(f"*{label}*\n{value}", MAX_FIELD_TEXT))


def rollout_blocks(view: RolloutView) -> list[Block]:
    """The card as slack_sdk block objects (see `rollout_card`)."""
    state = view.state.value.replace("_", " ")
    blocks: list[Block] = [
        HeaderBlock(
            block_id=f"rollout-{view.id}-header",
            text=PlainTextObject(text=truncate(f"Rollout: {view.flag_key}", MAX_HEADER_TEXT)),
        ),
        SectionBlock(
            block_id=f"rollout-{view.id}-fields",
            fields=[
                _field("Plan", view.plan_title),
                _field("State", state),
                _field("Phase", f"({view.phase_number}/{view.phase_count}) {view.phase_name}"),
                _field("Step", f"({view.step_number}/{view.step_count}) {view.step_name}"),
                _field("Percentage", f"{view.percentage}%"),
                _field("Next", _next_text(view)),
            ],
        ),
        SectionBlock(
            block_id=f"rollout-{view.id}-waiting",
            text=MarkdownTextObject(
                text=truncate(f"*Waiting for:* {mrkdwn(waiting_line(view))}", MAX_SECTION_TEXT)
            ),
        ),
        ContextBlock(
            block_id=f"rollout-{view.id}-context",
            elements=[
                MarkdownTextObject(
                    text=truncate(
                        f"Started by {mrkdwn(Message(person(view.started_by)))} "
                        f"{slack_date(view.started_at)}"
                        f" · plan `{view.plan_name}` · rollout #{view.id}",
                        MAX_CONTEXT_TEXT,
                    )
                )
            ],
        ),
    ]
    for index, note in enumerate(view.notes[:MAX_NOTES]):
        blocks.append(
            SectionBlock(
                block_id=f"rollout-{view.id}-note-{index}",
                text=MarkdownTextObject(text=truncate(chat_text(note), MAX_SECTION_TEXT)),
            )
        )
    if view.buttons:
        blocks.append(
            ActionsBlock(
                block_id=f"rollout-{view.id}-actions",
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text=truncate(b.label, MAX_BUTTON_LABEL)),
                        action_id=action_id(b.action),
                        value=b.value,
                        style=button_style(b.emphasis),
                    )
                    for b in view.buttons
                ],
            )
        )
    return blocks


def rollout_card(view: RolloutView) -> Blocks:
    """The rollout's card: header, where it stands, what's next, and its buttons."""
    return [b.to_dict() for b in rollout_blocks(view)]


def text_blocks(text: str, limit: int = MAX_BLOCKS) -> Blocks:
    """`text` as section blocks of at most 3000 characters each (split on lines)."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > MAX_SECTION_TEXT:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:MAX_SECTION_TEXT])
            line = line[MAX_SECTION_TEXT:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > MAX_SECTION_TEXT:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        chunks.append(current)
    if len(chunks) > limit:
        chunks = [*chunks[: limit - 1], "… (cut: too long for one Slack message)"]
    return [SectionBlock(text=MarkdownTextObject(text=c)).to_dict() for c in chunks if c.strip()]


def reply_blocks(reply: Reply, with_cards: bool = False) -> Blocks:
    """An ephemeral reply: its text, then (when `with_cards`) a card per rollout.

    Cards that would take the message past 50 blocks are left out and counted instead.
    """
    blocks = text_blocks(
        chat_text(reply.message or reply.text), limit=MAX_BLOCKS - 1 if with_cards else MAX_BLOCKS
    )
    if not with_cards or reply.error:
        return blocks
    left_out = 0
    for index, view in enumerate(reply.views):
        card = [DividerBlock().to_dict(), *rollout_card(view)]
        # Keep one block free to say how many cards were left out.
        room = MAX_BLOCKS - len(blocks) - (1 if index < len(reply.views) - 1 else 0)
        if len(card) > room:
            left_out = len(reply.views) - index
            break
        blocks.extend(card)
    if left_out:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"{left_out} more rollout(s) not shown; "
                        "use `/rollout status <flag>` for one."
                    )
                ]
            ).to_dict()
        )
    return blocks
