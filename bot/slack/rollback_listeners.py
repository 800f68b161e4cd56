"""`/rollback` in Slack: a confirmation modal (what will run, reason required), then the
runbook. Thin like the other listeners: ack, drop repeats, call the rollback service.

The command opens the modal only when a rollback is possible and allowed for this person;
otherwise it answers privately why not, and nothing runs. The submission is acknowledged at
once (the modal closes) and the runbook then runs, reporting in the rollout's thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.commands.rollback import (
    USAGE,
    confirmation_text,
    is_help,
    parse,
    report_text,
    split_runbook,
)
from bot.container import Rollbot
from bot.domain.actions import ROLLBACK_DECISIONS
from bot.domain.errors import RollbotError
from bot.domain.ids import record_id
from bot.domain.message import Message
from bot.domain.runbook import FULL
from bot.services.rollback.report import RollbackPreview
from bot.slack.blocks import truncate
from bot.slack.listener import (
    ERROR,
    REFUSED,
    UNEXPECTED,
    FormCheck,
    FormRefused,
    Handler,
    Interaction,
    Listeners,
    refusal_text,
)
from bot.slack.mrkdwn import mrkdwn
from bot.wording.rollback import step_lines

log = logging.getLogger(__name__)

CALLBACK_ID = "rollback_confirm"
REASON_BLOCK = "reason"
REASON_ACTION = "reason_input"
RUNBOOK_BLOCK = "runbook"
RUNBOOK_ACTION = "runbook_select"


def register_rollback(app: App, rollbot: Rollbot, listeners: Listeners) -> None:
    """Attach `/rollback` and its confirmation modal to `app`."""
    # Its answer is the confirmation form, opened with the request's trigger id.
    app.command("/rollback")(listeners.command("/rollback", _command(rollbot), opens_modal=True))
    app.view(CALLBACK_ID)(
        listeners.submission("rollback form", _check(rollbot), _submission(rollbot))
    )
    for what, choice in ROLLBACK_DECISIONS.items():
        listeners.button(app, what, _decision(rollbot, choice))


def _runbook_option(name: str, what: str) -> Option:
    return Option(value=name, text=PlainTextObject(text=truncate(f"{name}: {what}", 75)))


def _runbook_blocks(preview: RollbackPreview) -> list[Block]:
    """The runbook select menu (when the plan offers several), and what each other runbook
    runs, so the choice is made knowing its steps."""
    if len(preview.runbooks) < 2:
        return []
    options = [_runbook_option(name, what) for name, what in preview.runbooks[:100]]
    chosen = next((o for o in options if o.value == preview.runbook), options[0])
    blocks: list[Block] = [
        InputBlock(
            block_id=RUNBOOK_BLOCK,
            label=PlainTextObject(text="Runbook"),
            hint=PlainTextObject(
                text="The full rollback turns the flag off; a partial runbook leaves it on and "
                "pauses the rollout."
            ),
            element=StaticSelectElement(
                action_id=RUNBOOK_ACTION, options=options, initial_option=chosen
            ),
        )
    ]
    for name, steps in preview.other_steps[:10]:
        text = mrkdwn(Message("*", name, "* runs:\n", Message.join("\n", step_lines(steps))))
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=truncate(text, 3000))]))
    return blocks


def confirmation_modal(
    preview: RollbackPreview, reason: str, channel_id: str | None
) -> dict[str, Any]:
    """The modal: the steps that will run, the runbook to run (a select menu when the plan
    offers several), and the reason (required, prefilled if typed)."""
    meta = json.dumps({"flag": preview.flag_key, "channel": channel_id})
    view = View(
        type="modal",
        callback_id=CALLBACK_ID,
        private_metadata=meta,
        title=PlainTextObject(text="Roll back"),
        submit=PlainTextObject(text="Run it now" if len(preview.runbooks) > 1 else "Roll back now"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(text=truncate(mrkdwn(confirmation_text(preview)), 3000))
            ),
            *_runbook_blocks(preview),
            InputBlock(
                block_id=REASON_BLOCK,
                label=PlainTextObject(text="Why roll back?"),
                element=PlainTextInputElement(
                    action_id=REASON_ACTION,
                    multiline=True,
                    min_length=3,
                    max_length=500,
                    initial_value=reason[:500] or None,
                    placeholder=PlainTextObject(text="e.g. error rate doubled after the 25% step"),
                ),
            ),
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text="A full rollback turns the flag off first; every step is posted in "
                        "the rollout's thread."
                    )
                ]
            ),
        ],
    )
    return dict(view.to_dict())


def _command(rollbot: Rollbot) -> Callable[[Interaction], None]:
    def on_rollback(i: Interaction) -> None:
        if is_help(i.text):
            i.reply(USAGE)
            return
        flag, rest = parse(i.text)
        runbook, reason = split_runbook(rest, rollbot.rollback.runbooks(flag))
        preview = rollbot.rollback.preview(flag, i.actor, runbook)
        i.client.views_open(
            trigger_id=i.body["trigger_id"],
            view=confirmation_modal(preview, reason, i.channel_id),
        )

    return on_rollback


def _reason(view: dict[str, Any]) -> str:
    values = view.get("state", {}).get("values", {})
    raw = values.get(REASON_BLOCK, {}).get(REASON_ACTION, {}).get("value")
    return " ".join(str(raw or "").split())


def _runbook(view: dict[str, Any]) -> str:
    """The runbook chosen in the select menu (the full one when the modal has none)."""
    values = view.get("state", {}).get("values", {})
    selected = values.get(RUNBOOK_BLOCK, {}).get(RUNBOOK_ACTION, {}).get("selected_option")
    value = selected.get("value") if isinstance(selected, dict) else None
    return str(value) if value else FULL


def _form(view: dict[str, Any]) -> tuple[str, str | None] | None:
    """The flag and the channel the command was typed in, from the form's metadata."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        channel = meta.get("channel")
        return str(meta["flag"]), str(channel) if channel else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _check(rollbot: Rollbot) -> FormCheck:
    def check(i: Interaction) -> dict[str, str] | None:
        form = _form(i.view)
        if form is None:
            return {REASON_BLOCK: "This form lost its flag; run /rollback again."}
        if len(_reason(i.view)) < 3:
            return {REASON_BLOCK: "Say why you roll back (3 characters at least)."}
        try:
            # Still allowed and still possible, with the runbook chosen?
            rollbot.rollback.preview(form[0], i.actor, _runbook(i.view))
        except RollbotError as exc:
            block = RUNBOOK_BLOCK if _runbook(i.view) != FULL else REASON_BLOCK
            raise FormRefused(block, exc) from exc
        return None

    return check


def _submission(rollbot: Rollbot) -> Callable[[Interaction], None]:
    def on_submit(i: Interaction) -> None:
        form = _form(i.view)
        if form is None:  # the check refused such a form; nothing to run
            return
        flag, channel = form
        try:
            report = rollbot.rollback.roll_back(flag, i.actor, _reason(i.view), _runbook(i.view))
            text = report_text(report)
        except RollbotError as exc:
            i.mark(REFUSED)
            text = refusal_text(exc)
        except Exception:
            log.exception("rollback submission failed")
            i.mark(ERROR)
            text = UNEXPECTED
        _tell(i.client, channel, i.user_id, text)

    return on_submit


def _decision(rollbot: Rollbot, choice: str) -> Handler:
    """Re-run, Skip or Abort on the card of a rollback waiting at an unsafe step."""

    def on_decision(i: Interaction) -> None:
        try:
            rollback_id = record_id(json.loads(i.value)["rollback"])
        except (KeyError, TypeError, ValueError):
            i.reply(":warning: This button does not say which rollback it is for.", refused=True)
            return
        report = rollbot.rollback.decide(rollback_id, choice, i.actor)
        i.reply(report_text(report))

    return on_decision


def _tell(client: WebClient, channel: str | None, user: str, text: str) -> None:
    """A private note to the person who submitted (the thread has the details)."""
    if not channel:
        return
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    except Exception as exc:
        log.warning("could not tell %s how the rollback went: %s", user, exc)
