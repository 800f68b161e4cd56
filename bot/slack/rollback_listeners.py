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

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.models.blocks import (
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.commands.rollback import USAGE, confirmation_text, is_help, parse, report_text
from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.domain.errors import RollbotError
from bot.services.rollback.report import RollbackPreview
from bot.slack.blocks import truncate
from bot.slack.replies import first_command, refusal_text

log = logging.getLogger(__name__)

CALLBACK_ID = "rollback_confirm"
REASON_BLOCK = "reason"
REASON_ACTION = "reason_input"
UNEXPECTED = ":x: rollbot hit an unexpected problem (it is logged). Check `/rollout status <flag>`."


def register_rollback(app: App, rollbot: Rollbot) -> None:
    """Attach `/rollback` and its confirmation modal to `app`."""
    app.command("/rollback")(_command(rollbot))
    app.view(CALLBACK_ID)(_submission(rollbot))


def confirmation_modal(
    preview: RollbackPreview, reason: str, channel_id: str | None
) -> dict[str, Any]:
    """The modal: the steps that will run, and the reason (required, prefilled if typed)."""
    meta = json.dumps({"flag": preview.flag_key, "channel": channel_id})
    view = View(
        type="modal",
        callback_id=CALLBACK_ID,
        private_metadata=meta,
        title=PlainTextObject(text="Roll back"),
        submit=PlainTextObject(text="Roll back now"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=truncate(confirmation_text(preview), 3000))),
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
                        text="The flag is turned off first; every step is posted in the "
                        "rollout's thread."
                    )
                ]
            ),
        ],
    )
    return dict(view.to_dict())


def _command(rollbot: Rollbot) -> Callable[[Ack, dict[str, Any], Respond, WebClient], None]:
    def on_rollback(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        try:
            if not first_command(rollbot, body):
                return
            text = str(body.get("text") or "")
            if is_help(text):
                respond(response_type="ephemeral", text=USAGE)
                return
            actor = Actor(str(body["user_id"]), Via.SLACK)
            try:
                flag, reason = parse(text)
                preview = rollbot.rollback.preview(flag, actor)
            except RollbotError as exc:
                respond(response_type="ephemeral", text=refusal_text(exc))
                return
            client.views_open(
                trigger_id=body["trigger_id"],
                view=confirmation_modal(preview, reason, body.get("channel_id")),
            )
        except Exception:
            log.exception("/rollback failed")
            respond(response_type="ephemeral", text=UNEXPECTED)

    return on_rollback


def _reason(view: dict[str, Any]) -> str:
    values = view.get("state", {}).get("values", {})
    raw = values.get(REASON_BLOCK, {}).get(REASON_ACTION, {}).get("value")
    return " ".join(str(raw or "").split())


def _submission(rollbot: Rollbot) -> Callable[[Ack, dict[str, Any], WebClient], None]:
    def on_submit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        view = body.get("view") or {}
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
            flag = str(meta["flag"])
        except (ValueError, KeyError, TypeError):
            ack(
                response_action="errors",
                errors={REASON_BLOCK: "This form lost its flag; run /rollback again."},
            )
            return
        reason = _reason(view)
        if len(reason) < 3:
            ack(
                response_action="errors",
                errors={REASON_BLOCK: "Say why you roll back (3 characters at least)."},
            )
            return
        actor = Actor(str(body["user"]["id"]), Via.SLACK)
        try:
            rollbot.rollback.preview(flag, actor)  # still allowed and still possible?
        except RollbotError as exc:
            ack(response_action="errors", errors={REASON_BLOCK: truncate(str(exc), 150)})
            return
        ack()  # the modal closes now; the runbook runs after Slack has its answer
        try:
            key = f"slack:view:{view.get('id')}:{view.get('hash')}"
            if not rollbot.requests.first_time(key):
                log.info("ignoring repeated rollback submission %s", key)
                return
            try:
                report = rollbot.rollback.roll_back(flag, actor, reason)
                text = report_text(report)
            except RollbotError as exc:
                text = refusal_text(exc)
            _tell(client, meta.get("channel"), actor.id, text)
        except Exception:
            log.exception("rollback submission failed")
            _tell(client, meta.get("channel"), actor.id, UNEXPECTED)

    return on_submit


def _tell(client: WebClient, channel: str | None, user: str, text: str) -> None:
    """A private note to the person who submitted (the thread has the details)."""
    if not channel:
        return
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    except Exception as exc:
        log.warning("could not tell %s how the rollback went: %s", user, exc)
