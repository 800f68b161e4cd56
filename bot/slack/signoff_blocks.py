"""Block Kit for sign-offs: the ask sent by DM, the reject-reason modal, checklist replies.

Built with `slack_sdk.models` so nested limits are validated by `to_dict()`; text is cut to
Slack's limits here, because Slack rejects the whole message otherwise.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.commands.approve import ApproveReply
from bot.domain.actions import Action, Emphasis
from bot.domain.message import Code, Mention, Message
from bot.services.signoff.ports import Ask
from bot.slack.actions import REJECT_CALLBACK, action_id, button_style
from bot.slack.blocks import (
    MAX_BLOCKS,
    MAX_BUTTON_LABEL,
    MAX_FIELD_TEXT,
    MAX_SECTION_TEXT,
    Blocks,
    text_blocks,
    truncate,
)
from bot.slack.mrkdwn import mrkdwn
from bot.wording import signoff

REASON_BLOCK = "reason"
REASON_ACTION = "reason"
MAX_MODAL_TITLE = 24
MAX_METADATA = 3000


def _field(label: str, value: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=truncate(f"*{label}*\n{value}", MAX_FIELD_TEXT))


def ask_text(ask: Ask) -> str:
    """The notification text of an ask (shown where blocks are not)."""
    head, note = mrkdwn(signoff.ask_headline(ask)), mrkdwn(signoff.ask_note(ask))
    return truncate(f"{head}. {note}".strip(), MAX_SECTION_TEXT)


def ask_blocks(ask: Ask) -> Blocks:
    """A DM asking one person to sign: what, which phase, the chain, the checklists, and
    Approve / Reject."""
    value = ask.button.dumps()
    note = signoff.ask_note(ask)
    metrics = signoff.metric_readings(ask.metrics)
    blocks: list[Block] = [
        SectionBlock(
            block_id="signoff-ask-head",
            text=MarkdownTextObject(
                text=truncate(mrkdwn(signoff.ask_headline(ask) + "."), MAX_SECTION_TEXT)
            ),
        ),
        SectionBlock(
            block_id="signoff-ask-fields",
            fields=[
                _field("Rollout", mrkdwn(Message(Code(ask.flag_key), f" ({ask.plan_title})"))),
                _field("Phase", mrkdwn(ask.phase_name)),
                _field("Step", mrkdwn(f"{ask.step_name} ({ask.percentage}%)")),
                _field("Requested by", mrkdwn(Message(Mention(ask.requester)))),
            ],
        ),
        SectionBlock(
            block_id="signoff-ask-chain",
            text=MarkdownTextObject(
                text=truncate(
                    f"*Chain*\n{mrkdwn(signoff.chain_lines(ask.chain))}", MAX_SECTION_TEXT
                )
            ),
        ),
        SectionBlock(
            block_id="signoff-ask-checklists",
            text=MarkdownTextObject(
                text=truncate(
                    f"*Checklists*\n{mrkdwn(signoff.open_checklists(ask.checklists))}",
                    MAX_SECTION_TEXT,
                )
            ),
        ),
    ]
    if metrics:
        blocks.append(
            SectionBlock(
                block_id="signoff-ask-metrics",
                text=MarkdownTextObject(
                    text=truncate(f"*Current metrics*\n{mrkdwn(metrics)}", MAX_SECTION_TEXT)
                ),
            )
        )
    if note:
        blocks.append(
            ContextBlock(
                block_id="signoff-ask-note",
                elements=[MarkdownTextObject(text=truncate(mrkdwn(note), 2000))],
            )
        )
    blocks.append(
        ActionsBlock(
            block_id="signoff-ask-actions",
            elements=[
                ButtonElement(
                    text=PlainTextObject(
                        text=truncate(f"Approve as {ask.role_name}", MAX_BUTTON_LABEL)
                    ),
                    action_id=action_id(Action.APPROVE),
                    value=value,
                    style=button_style(Emphasis.CONFIRM),
                ),
                ButtonElement(
                    text=PlainTextObject(
                        text=truncate(f"Reject as {ask.role_name}", MAX_BUTTON_LABEL)
                    ),
                    action_id=action_id(Action.REJECT),
                    value=value,
                    style=button_style(Emphasis.DESTRUCTIVE),
                ),
            ],
        )
    )
    return [b.to_dict() for b in blocks]


def closed_blocks(text: str) -> Blocks:
    """An ask after it closed: only what happened, no buttons."""
    return [SectionBlock(text=MarkdownTextObject(text=truncate(text, MAX_SECTION_TEXT))).to_dict()]


def reject_modal(value: str, summary: Message) -> dict[str, object]:
    """The modal asking why: a required reason; the button's value rides along."""
    view = View(
        type="modal",
        callback_id=REJECT_CALLBACK,
        private_metadata=value[:MAX_METADATA],
        title=PlainTextObject(text="Reject sign-off"[:MAX_MODAL_TITLE]),
        submit=PlainTextObject(text="Reject"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=truncate(mrkdwn(summary), MAX_SECTION_TEXT))),
            InputBlock(
                block_id=REASON_BLOCK,
                label=PlainTextObject(text="Why? (the requester will read this)"),
                element=PlainTextInputElement(
                    action_id=REASON_ACTION, multiline=True, min_length=3, max_length=2000
                ),
            ),
        ],
    )
    return dict(view.to_dict())


def checklist_blocks(reply: ApproveReply) -> Blocks:
    """A checklist reply: the heading, then one section per item with its Check button."""
    blocks = text_blocks(reply.text, limit=1)
    room = MAX_BLOCKS - len(blocks) - 1
    for line in reply.items[:room]:
        accessory = None
        if line.button is not None:
            accessory = ButtonElement(
                text=PlainTextObject(text=truncate(line.button.label, MAX_BUTTON_LABEL)),
                action_id=action_id(line.button.action),
                value=line.button.value,
            )
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=truncate(line.text, MAX_SECTION_TEXT)),
                accessory=accessory,
            ).to_dict()
        )
    if len(reply.items) > room:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(text=f"{len(reply.items) - room} more item(s) not shown.")
                ]
            ).to_dict()
        )
    return blocks
