"""`/rollout` and the rollout card's buttons (Advance, Pause, Resume).

Thin: parse, call the rollout service, render. Acks, repeats, refusals and unexpected
failures are the wrapper's (bot/slack/listener.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from slack_bolt import App

from bot.commands.rollout import run_rollout
from bot.container import Rollbot
from bot.domain.actions import Action
from bot.domain.ids import record_id
from bot.services.rollouts.reading import Outcome
from bot.slack.blocks import chat_text, reply_blocks, rollout_card, truncate
from bot.slack.digest_blocks import DigestRenderer
from bot.slack.listener import MAX_REPLY_TEXT, Interaction, Listeners

# Subcommands whose answer shows rollout cards privately; the others change a rollout,
# whose public card the notifier has already posted or edited.
CARD_SUBCOMMANDS = frozenset({"status"})


def register_rollouts(app: App, rollbot: Rollbot, listeners: Listeners) -> None:
    """Attach `/rollout` and the card's buttons to `app`."""
    app.command("/rollout")(listeners.command("/rollout", _rollout_command(rollbot)))
    service = rollbot.rollouts
    changes: dict[Action, Callable[..., Outcome]] = {
        Action.ADVANCE: service.advance,
        Action.PAUSE: service.pause,
        Action.RESUME: service.resume,
    }
    for what, change in changes.items():
        listeners.button(app, what, _rollout_button(rollbot, change))


def _rollout_command(rollbot: Rollbot) -> Callable[[Interaction], None]:
    digests = DigestRenderer(rollbot.templates_dir)

    def on_rollout(i: Interaction) -> None:
        reply = run_rollout(
            i.text, i.actor, rollbot.rollouts, i.channel_id, rollbot.rollout_subcommands
        )
        if reply.digest is not None:
            # A digest now, privately: as many ephemeral messages as it needs.
            for message in digests.messages(reply.digest):
                i.reply(digests.fallback(reply.digest), message)
            return
        words = i.text.split()
        sub = words[0].lower() if words else "help"
        cards = sub in CARD_SUBCOMMANDS and bool(reply.views) and not reply.error
        i.reply(
            chat_text(reply.message or reply.text),
            reply_blocks(reply, with_cards=cards),
            refused=reply.error,
        )

    return on_rollout


def _button_value(value: str) -> tuple[int, int] | None:
    try:
        parsed = json.loads(value)
        return record_id(parsed["rollout"]), record_id(parsed["step"])
    except (KeyError, TypeError, ValueError):
        return None


def _rollout_button(
    rollbot: Rollbot, change: Callable[..., Outcome]
) -> Callable[[Interaction], None]:
    def on_button(i: Interaction) -> None:
        parsed = _button_value(i.value)
        if parsed is None:
            i.reply(":warning: This button does not say which rollout it belongs to.", refused=True)
            return
        rollout_id, step = parsed
        flag = rollbot.rollouts.flag_for_rollout(rollout_id)
        outcome = change(flag, i.actor, expected_step=step)
        if (i.body.get("container") or {}).get("is_ephemeral") and i.respond is not None:
            # A private status card does not get edited by the notifier: refresh it.
            i.respond(
                replace_original=True,
                text=truncate(chat_text(outcome.event), MAX_REPLY_TEXT),
                blocks=rollout_card(outcome.view),
            )

    return on_button
