"""What a command answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.message import Message
from bot.services.rollouts.views import RolloutView


@dataclass(frozen=True)
class Reply:
    """A private answer to the person who typed the command.

    `text` is Slack mrkdwn; `views` are rollouts to show as cards; `error` marks a refusal
    (nothing changed). `message`, when set, is what a service said, shown instead of `text`
    by each chat in its own way (`text` then holds it as plain text).
    """

    text: str
    views: list[RolloutView] = field(default_factory=list)
    error: bool = False
    message: Message | None = None

    @staticmethod
    def said(message: Message, views: list[RolloutView]) -> Reply:
        """A reply that is a service's message, with the rollouts it is about."""
        return Reply(message.plain(), views, message=message)


def refusal(message: str, hint: str = "", usage: str = "") -> Reply:
    """A refusal saying what is wrong, what would be right, and the usage."""
    parts = [f":warning: {message}"]
    if hint:
        parts.append(hint)
    if usage:
        parts.append(usage)
    return Reply("\n".join(parts), error=True)
