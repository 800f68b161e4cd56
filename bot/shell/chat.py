"""The terminal as rollbot's chat: every port prints through one notifier (one lock)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TextIO

from bot.services.chat import ChatPorts
from bot.shell.digest import ShellDigestChat
from bot.shell.incident_chat import ShellIncidentChat
from bot.shell.notifier import ShellNotifier
from bot.shell.signoff import ShellSignoffNotifier


class ShellChat:
    """Cards, thread events, sign-off DMs and incident channels printed on `out`;
    post-mortem drafts written into `drafts` (a folder); scheduled digests printed from the
    digest template in `templates_dir`.

    Build rollbot with `ports`, then give this chat to `Shell`, which listens to what it
    prints (`notifier.on_view` / `on_event`) to know each flag's latest buttons.
    """

    def __init__(
        self, out: TextIO, drafts: Path | None = None, templates_dir: Path | None = None
    ) -> None:
        self.out = out
        self.notifier = ShellNotifier(out)
        self.incidents = ShellIncidentChat(self.notifier, drafts)
        self.ports = ChatPorts(
            rollouts=self.notifier,
            signoffs=ShellSignoffNotifier(self.notifier.write),
            incidents=self.incidents,
        )
        if templates_dir is not None:
            # Scheduled digests print like channel messages (with the digest template).
            digests = ShellDigestChat(self.notifier.write, templates_dir)
            self.ports = replace(self.ports, digests=digests)
