"""What every Bolt listener shares: private replies, refusals, and dropping repeats.

Slack retries a request it thinks was lost, and a proxy may replay one; the request ledger
(`rollbot.requests`) remembers each command and click so it acts once.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Respond

from bot.commands.reply import refusal
from bot.container import Rollbot
from bot.domain.errors import RollbotError
from bot.slack.blocks import truncate

log = logging.getLogger(__name__)

MAX_REPLY_TEXT = 3000


def ephemeral(respond: Respond, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    """Answer only the person who typed or clicked, without replacing the message."""
    respond(
        response_type="ephemeral",
        replace_original=False,
        text=truncate(text, MAX_REPLY_TEXT),
        blocks=blocks,
    )


def refusal_text(exc: RollbotError) -> str:
    """A refusal as Slack text: what is wrong, then what would be right."""
    return refusal(exc.message, exc.hint).text


def first_command(rollbot: Rollbot, body: dict[str, Any]) -> bool:
    """False for a repeat of a slash command already handled (same trigger_id)."""
    trigger_id = body.get("trigger_id")
    if not trigger_id or rollbot.requests.first_time(f"slack:{trigger_id}"):
        return True
    log.info("ignoring repeated %s request %s", body.get("command", "command"), trigger_id)
    return False


def first_click(rollbot: Rollbot, body: dict[str, Any], action: dict[str, Any]) -> bool:
    """False for a repeat of a button click already handled."""
    key = f"slack:{body.get('trigger_id')}:{action.get('action_ts')}"
    if rollbot.requests.first_time(key):
        return True
    log.info("ignoring repeated click %s", key)
    return False
