"""Bolt listeners, kept thin: ack, drop repeats, parse, call the service, render.

Each listener acks before doing anything slow (the app runs with
`process_before_response=False`, so the work continues after Slack has its answer), and
remembers the request in the ledger so a Slack retry or a double delivery acts once.
Listeners never touch the store: everything goes through services and commands.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.commands.reply import refusal
from bot.commands.rollout import run_rollout
from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.domain.errors import RollbotError
from bot.services.rollouts.reading import Outcome
from bot.services.rollouts.views import ACTION_ADVANCE, ACTION_PAUSE, ACTION_RESUME
from bot.slack.blocks import reply_blocks, rollout_card, truncate
from bot.slack.replies import MAX_REPLY_TEXT, ephemeral, first_click, first_command

log = logging.getLogger(__name__)

UNEXPECTED = (
    ":x: rollbot hit an unexpected problem (it is logged). "
    "Check `/rollout status <flag>` before trying again."
)
# Subcommands whose answer shows rollout cards privately; the others change a rollout,
# whose public card the notifier has already posted or edited.
CARD_SUBCOMMANDS = frozenset({"status"})


def register(app: App, rollbot: Rollbot) -> None:
    """Attach rollbot's commands and buttons to `app`."""
    app.command("/rollout")(_rollout_command(rollbot))
    service = rollbot.rollouts
    actions: dict[str, Callable[..., Outcome]] = {
        ACTION_ADVANCE: service.advance,
        ACTION_PAUSE: service.pause,
        ACTION_RESUME: service.resume,
    }
    for action_id, change in actions.items():
        app.action(action_id)(_rollout_button(rollbot, change))


def _rollout_command(rollbot: Rollbot) -> Callable[[Ack, dict[str, Any], Respond], None]:
    def on_rollout(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        try:
            if not first_command(rollbot, body):
                return
            text = str(body.get("text") or "")
            actor = Actor(str(body["user_id"]), Via.SLACK)
            reply = run_rollout(
                text, actor, rollbot.rollouts, body.get("channel_id"), rollbot.rollout_subcommands
            )
            words = text.split()
            sub = words[0].lower() if words else "help"
            cards = sub in CARD_SUBCOMMANDS and bool(reply.views) and not reply.error
            ephemeral(respond, reply.text, reply_blocks(reply, with_cards=cards))
        except Exception:
            log.exception("/rollout failed")
            ephemeral(respond, UNEXPECTED)

    return on_rollout


def _button_value(action: dict[str, Any]) -> tuple[int, int] | None:
    try:
        value = json.loads(str(action["value"]))
        return int(value["rollout"]), int(value["step"])
    except (KeyError, TypeError, ValueError):
        return None


def _rollout_button(
    rollbot: Rollbot, change: Callable[..., Outcome]
) -> Callable[[Ack, dict[str, Any], dict[str, Any], Respond], None]:
    def on_button(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        try:
            if not first_click(rollbot, body, action):
                return
            parsed = _button_value(action)
            if parsed is None:
                ephemeral(
                    respond,
                    ":warning: This button does not say which rollout it belongs to.",
                    None,
                )
                return
            rollout_id, step = parsed
            actor = Actor(str(body["user"]["id"]), Via.SLACK)
            try:
                flag = rollbot.rollouts.flag_for_rollout(rollout_id)
                outcome = change(flag, actor, expected_step=step)
            except RollbotError as exc:
                text = refusal(exc.message, exc.hint).text
                ephemeral(respond, text)
                return
            if (body.get("container") or {}).get("is_ephemeral"):
                # A private status card does not get edited by the notifier: refresh it.
                respond(
                    replace_original=True,
                    text=truncate(outcome.event, MAX_REPLY_TEXT),
                    blocks=rollout_card(outcome.view),
                )
        except Exception:
            log.exception("rollout button failed")
            ephemeral(respond, UNEXPECTED)

    return on_button
