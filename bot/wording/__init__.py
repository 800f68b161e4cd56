"""What rollbot says in chat: the words for each event a service reports, shared by Slack and
the shell (each then writes the `Message` in its own syntax: bot/slack/mrkdwn.py,
bot/shell/text.py).

One module per capability, each with a `WORDS` table from event class to the function that
words it; `words` looks an event up in all of them. A `Message` (what is not an event yet:
refusals, timeline records) passes through as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.domain.message import Message
from bot.services.events import Event, Said
from bot.services.rollouts.views import RolloutView
from bot.wording import flags, incidents, rollback, rollouts, signoff

WORDS: dict[type[Event], Callable[[Any], Message]] = {
    **flags.WORDS,
    **incidents.WORDS,
    **rollback.WORDS,
    **rollouts.WORDS,
    **signoff.WORDS,
}


def words(said: Said) -> Message:
    """The words for what a service said: an event worded by its capability's module, or a
    message as it is."""
    if isinstance(said, Message):
        return said
    word = WORDS.get(type(said))
    if word is None:
        raise TypeError(f"no words for the event {type(said).__name__}")
    return word(said)


def waiting_line(view: RolloutView) -> Message:
    """The card's "waiting for" line: what the rollout waits for, then what holds it."""
    line = words(view.waiting_for)
    if not view.held:
        return line
    return Message(line, " Held: ", Message.join("; ", (words(h) for h in view.held)), ".")
