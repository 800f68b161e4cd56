"""How the rollout service tells people what happened, without knowing which chat they use.

A chat adapter implements `RolloutNotifier`: it words each event (bot/wording/) and writes
the words in its own syntax.
Delivery failures never undo a state change: the notification goes to the outbox
(bot/store/outbox.py) and is retried with backoff until it gets through.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from bot.services.events import Said
from bot.services.rollouts.views import RolloutView
from bot.store.outbox import backoff as backoff

# `backoff` is imported from here by the incident service's due work (same retry policy).
__all__ = ["CardLocation", "NullNotifier", "RolloutNotifier", "ThreadText", "backoff"]

log = logging.getLogger(__name__)

ThreadText = Said
"""What a rollout's thread is told: an event (bot/wording/ words it) or a message."""


@dataclass(frozen=True)
class CardLocation:
    """Where a rollout's card lives in the chat."""

    channel_id: str
    message_ts: str


class RolloutNotifier(Protocol):
    """Shows rollout cards and posts rollout events in a chat."""

    def show_card(self, view: RolloutView) -> CardLocation | None:
        """Post the card (first time) or edit it in place; return where it is."""
        ...

    def post_event(self, view: RolloutView, message: ThreadText) -> None:
        """Post one event in the card's thread."""
        ...


class NullNotifier:
    """For `rollbot serve` without a chat: state changes are only in the database and logs."""

    def show_card(self, view: RolloutView) -> CardLocation | None:
        """Nothing to show."""
        return None

    def post_event(self, view: RolloutView, message: ThreadText) -> None:
        """Log the event."""
        log.info("rollout %s (%s): %s", view.id, view.flag_key, message)
