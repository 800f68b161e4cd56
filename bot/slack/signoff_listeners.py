"""Bolt listeners of the sign-off chain: `/approve`, Approve / Reject / Check buttons and
the reject-reason modal. Thin: parse, call a service, answer privately; the wrapper in
bot/slack/listener.py acks, drops repeats and refuses."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.commands.approve import ApproveReply, run_approve
from bot.container import Rollbot
from bot.domain.actions import Action
from bot.domain.message import Message, Sign
from bot.services.signoff.feature import Signoffs
from bot.services.signoff.ports import CheckButton, SignButton
from bot.slack.actions import REJECT_CALLBACK
from bot.slack.blocks import reply_blocks
from bot.slack.listener import Handler, Interaction, Listeners
from bot.slack.signoff_blocks import REASON_ACTION, REASON_BLOCK, checklist_blocks, reject_modal
from bot.wording import words


def register_signoff(app: App, rollbot: Rollbot, listeners: Listeners) -> None:
    """Attach `/approve`, the sign-off buttons and the reject modal."""
    signoffs = rollbot.signoffs
    if signoffs is None:
        return
    app.command("/approve")(listeners.command("/approve", _approve_command(signoffs)))
    listeners.button(app, Action.APPROVE, _approve_button(signoffs))
    # Reject asks for the reason in a form, opened with the click's trigger id.
    listeners.button(app, Action.REJECT, _reject_button(signoffs), opens_modal=True)
    listeners.button(app, Action.CHECK, _check_button(signoffs))
    app.view(REJECT_CALLBACK)(
        listeners.submission("reject form", _check_reason, _reject_submission(signoffs))
    )


def _approve_command(signoffs: Signoffs) -> Handler:
    def on_approve(i: Interaction) -> None:
        reply = run_approve(i.text, i.actor, signoffs)
        if isinstance(reply, ApproveReply) and reply.items:
            i.reply(reply.message or reply.text, checklist_blocks(reply), refused=reply.error)
        else:
            cards = bool(reply.views) and not reply.error
            i.reply(
                reply.message or reply.text,
                reply_blocks(reply, with_cards=cards),
                refused=reply.error,
            )

    return on_approve


def _approve_button(signoffs: Signoffs) -> Handler:
    def on_approve(i: Interaction) -> None:
        button = SignButton.loads(i.value)
        if button is None:
            i.reply(":warning: This button does not say what it signs.", refused=True)
            return
        result = signoffs.service.approve(button, i.actor)
        said = words(result.text)
        i.reply(Message(Sign.OK, said) if result.changed else said)

    return on_approve


def _reject_button(signoffs: Signoffs) -> Handler:
    def on_reject(i: Interaction) -> None:
        button = SignButton.loads(i.value)
        if button is None:
            i.reply(":warning: This button does not say what it rejects.", refused=True)
            return
        summary = words(signoffs.service.may_reject(button, i.actor))
        i.client.views_open(trigger_id=i.body["trigger_id"], view=reject_modal(i.value, summary))

    return on_reject


def _reason(view: dict[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    return str(((values.get(REASON_BLOCK) or {}).get(REASON_ACTION) or {}).get("value") or "")


def _check_reason(i: Interaction) -> dict[str, str] | None:
    if not _reason(i.view).strip():
        # Slack keeps the modal open and shows this under the field.
        return {REASON_BLOCK: "Say why you reject it."}
    return None


def _reject_submission(signoffs: Signoffs) -> Handler:
    def on_submit(i: Interaction) -> None:
        button = SignButton.loads(str(i.view.get("private_metadata") or ""))
        if button is None:
            i.reply(":warning: That form does not say what it rejects.", refused=True)
            return
        result = signoffs.service.reject(button, i.actor, _reason(i.view))
        i.reply(words(result.text))

    return on_submit


def _check_button(signoffs: Signoffs) -> Handler:
    def on_check(i: Interaction) -> None:
        button = CheckButton.loads(i.value)
        if button is None:
            i.reply(":warning: This button does not say which item it checks.", refused=True)
            return
        result = signoffs.checklists.check(button, i.actor)
        said = words(result.text)
        i.reply(Message(Sign.CHECKED, said) if result.changed else said)

    return on_check
