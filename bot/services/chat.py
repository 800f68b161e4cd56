"""The chat a rollbot talks through, as the ports its services were built with.

`bot.container.build` takes one `ChatPorts`: Slack's (bot/slack/chat.py), the shell's
(bot/shell/chat.py), or none (`ChatPorts.none()`: state changes only reach the database
and the log). Each service gets its port at construction; nothing is swapped in later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.services.digests.ports import DigestChat, NullDigestChat
from bot.services.incidents.views import IncidentChat, NullIncidentChat
from bot.services.permissions import GroupResolver
from bot.services.rollouts.notifier import NullNotifier, RolloutNotifier
from bot.services.signoff.ports import NullSignoffNotifier, SignoffNotifier


@dataclass(frozen=True)
class ChatPorts:
    """Where rollout cards, sign-off asks, incidents and digests go, and how user groups
    resolve."""

    rollouts: RolloutNotifier
    signoffs: SignoffNotifier
    incidents: IncidentChat
    # Members of a chat user group (Slack `usergroups.users.list`); None: groups are empty.
    groups: GroupResolver | None = None
    # Where scheduled digests are posted (a channel message each).
    digests: DigestChat = field(default_factory=NullDigestChat)

    @classmethod
    def none(cls) -> ChatPorts:
        """No chat: `rollbot serve` without Slack tokens, and tests that need none."""
        return cls(NullNotifier(), NullSignoffNotifier(), NullIncidentChat())
