"""The terminal as the chat: cards and thread events are printed.

The scheduler thread advances rollouts and notifies too, so every write goes through one
lock; the shell writes its own output through `write()` so lines never interleave.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TextIO

from bot.services.rollouts.notifier import CardLocation, ThreadText
from bot.services.rollouts.views import RolloutView
from bot.shell.render import render_card, terminal_text

SHELL_CHANNEL = "shell"


class ShellNotifier:
    """A `RolloutNotifier` that prints to a text stream.

    `on_view` and `on_event` (optional) hear every card and event, from whichever thread
    sent them, so the shell knows the latest buttons of each flag. They are called with
    `lock` held; whoever shares state with them can guard it with the same lock.
    """

    def __init__(
        self,
        out: TextIO,
        on_view: Callable[[RolloutView], None] | None = None,
        on_event: Callable[[RolloutView, str], None] | None = None,
    ) -> None:
        self.out = out
        self.on_view = on_view
        self.on_event = on_event
        self.lock = threading.RLock()
        self._printed: dict[int, str] = {}  # the card last printed of each rollout

    def write(self, text: str) -> None:
        """Print `text` (a newline is added) as one piece, flushed."""
        with self.lock:
            data = text + "\n"
            try:
                self.out.write(data)
            except UnicodeEncodeError:
                encoding = getattr(self.out, "encoding", None) or "ascii"
                self.out.write(data.encode(encoding, "replace").decode(encoding))
            self.out.flush()

    def show_card(self, view: RolloutView) -> CardLocation | None:
        """Print the card and say where it is: ("shell", rollout id), so the service
        remembers it. A card already posted in another chat (Slack, on a shared database)
        keeps its place there: None, so the shell never takes a Slack card away."""
        with self.lock:
            self._heard(view)
            card = render_card(view)
            # Printed again only when it changed (a probe result alone changes nothing here).
            if self._printed.get(view.id) != card:
                self._printed[view.id] = card
                self.write(card)
        if view.message_ts is not None and view.channel_id not in (None, SHELL_CHANNEL):
            return None
        return CardLocation(SHELL_CHANNEL, str(view.id))

    def post_event(self, view: RolloutView, message: ThreadText) -> None:
        """Print one event of the card's thread."""
        text = terminal_text(message)
        with self.lock:
            self._heard(view)
            if self.on_event is not None:
                self.on_event(view, text)
            self.write(f"[{view.flag_key} thread] {text}")

    def _heard(self, view: RolloutView) -> None:
        if self.on_view is not None:
            self.on_view(view)
