"""Bolt listeners of the sign-off chain: `/approve`, Approve / Reject / Check buttons and
the reject-reason modal. Thin like bot/slack/listeners.py: ack, drop repeats, call a
service, answer privately."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.commands.approve import ApproveReply, run_approve
from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.domain.durations import parse_duration
from bot.domain.errors import RollbotError
from bot.services.signoff.feature import Signoffs
from bot.services.signoff.ports import (
    ACTION_APPROVE,
    ACTION_CHECK,
    ACTION_REJECT,
    REJECT_CALLBACK,
    CheckButton,
    SignButton,
)
from bot.slack.blocks import reply_blocks
from bot.slack.listeners import UNEXPECTED
from bot.slack.replies import ephemeral, first_click, first_command, refusal_text
from bot.slack.signoff_blocks import REASON_ACTION, REASON_BLOCK, checklist_blocks, reject_modal
from bot.slack.signoff_notifier import SlackGroupResolver, SlackSignoffNotifier

log = logging.getLogger(__name__)

Listener = Callable[..., None]


def register_signoff(app: App, rollbot: Rollbot) -> None:
    """Attach `/approve`, the sign-off buttons and the reject modal; send sign-off DMs
    through Slack and resolve role user groups with `usergroups.users.list`."""
    signoffs = rollbot.signoffs
    if signoffs is None:
        return
    client: WebClient = app.client
    signoffs.service.notifier = SlackSignoffNotifier(client)
    ttl = parse_duration(rollbot.settings.config.signoff.group_cache).total_seconds()
    rollbot.permissions.groups = SlackGroupResolver(client, ttl)
    app.command("/approve")(_approve_command(rollbot, signoffs))
    app.action(ACTION_APPROVE)(_approve_button(rollbot, signoffs))
    app.action(ACTION_REJECT)(_reject_button(rollbot, signoffs))
    app.action(ACTION_CHECK)(_check_button(rollbot, signoffs))
    app.view(REJECT_CALLBACK)(_reject_submission(rollbot, signoffs))


def _approve_command(rollbot: Rollbot, signoffs: Signoffs) -> Listener:
    def on_approve(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        try:
            if not first_command(rollbot, body):
                return
            actor = Actor(str(body["user_id"]), Via.SLACK)
            reply = run_approve(str(body.get("text") or ""), actor, signoffs)
            if isinstance(reply, ApproveReply) and reply.items:
                ephemeral(respond, reply.text, checklist_blocks(reply))
            else:
                cards = bool(reply.views) and not reply.error
                ephemeral(respond, reply.text, reply_blocks(reply, with_cards=cards))
        except Exception:
            log.exception("/approve failed")
            ephemeral(respond, UNEXPECTED)

    return on_approve


def _approve_button(rollbot: Rollbot, signoffs: Signoffs) -> Listener:
    def on_approve(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        try:
            if not first_click(rollbot, body, action):
                return
            button = SignButton.loads(str(action.get("value")))
            if button is None:
                ephemeral(respond, ":warning: This button does not say what it signs.")
                return
            actor = Actor(str(body["user"]["id"]), Via.SLACK)
            try:
                result = signoffs.service.approve(button, actor)
            except RollbotError as exc:
                ephemeral(respond, refusal_text(exc))
                return
            ephemeral(respond, (":white_check_mark: " if result.changed else "") + result.text)
        except Exception:
            log.exception("approve button failed")
            ephemeral(respond, UNEXPECTED)

    return on_approve


def _reject_button(rollbot: Rollbot, signoffs: Signoffs) -> Listener:
    def on_reject(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        ack()
        try:
            if not first_click(rollbot, body, action):
                return
            value = str(action.get("value"))
            button = SignButton.loads(value)
            if button is None:
                ephemeral(respond, ":warning: This button does not say what it rejects.")
                return
            actor = Actor(str(body["user"]["id"]), Via.SLACK)
            try:
                summary = signoffs.service.may_reject(button, actor)
            except RollbotError as exc:
                ephemeral(respond, refusal_text(exc))
                return
            client.views_open(trigger_id=body["trigger_id"], view=reject_modal(value, summary))
        except Exception:
            log.exception("reject button failed")
            ephemeral(respond, UNEXPECTED)

    return on_reject


def _reject_submission(rollbot: Rollbot, signoffs: Signoffs) -> Listener:
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        reason = str(((values.get(REASON_BLOCK) or {}).get(REASON_ACTION) or {}).get("value") or "")
        if not reason.strip():
            # Slack keeps the modal open and shows this under the field.
            ack(response_action="errors", errors={REASON_BLOCK: "Say why you reject it."})
            return
        ack()
        user = str(body["user"]["id"])
        notifier = signoffs.service.notifier
        try:
            key = f"slack:view:{view.get('id')}:{body.get('trigger_id')}"
            if not rollbot.requests.first_time(key):
                return
            button = SignButton.loads(str(view.get("private_metadata") or ""))
            if button is None:
                notifier.tell(user, ":warning: That form does not say what it rejects.")
                return
            try:
                result = signoffs.service.reject(button, Actor(user, Via.SLACK), reason)
            except RollbotError as exc:
                notifier.tell(user, refusal_text(exc))
                return
            notifier.tell(user, result.text)
        except Exception:
            log.exception("reject submission failed")

    return on_submit


def _check_button(rollbot: Rollbot, signoffs: Signoffs) -> Listener:
    def on_check(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        try:
            if not first_click(rollbot, body, action):
                return
            button = CheckButton.loads(str(action.get("value")))
            if button is None:
                ephemeral(respond, ":warning: This button does not say which item it checks.")
                return
            actor = Actor(str(body["user"]["id"]), Via.SLACK)
            try:
                result = signoffs.checklists.check(button, actor)
            except RollbotError as exc:
                ephemeral(respond, refusal_text(exc))
                return
            ephemeral(respond, (":ballot_box_with_check: " if result.changed else "") + result.text)
        except Exception:
            log.exception("check button failed")
            ephemeral(respond, UNEXPECTED)

    return on_check
