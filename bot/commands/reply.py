"""What a command answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.services.rollouts.views import RolloutView


@dataclass(frozen=True)
class Reply:
    """A private answer to the person who typed the command.

    `text` is Slack mrkdwn; `views` are rollouts to show as cards; `error` marks a refusal
    (nothing changed).
    """

    text: str
    views: list[RolloutView] = field(default_factory=list)
    error: bool = False


def refusal(message: str, hint: str = "", usage: str = "") -> Reply:
    """A refusal saying what is wrong, what would be right, and the usage."""
    parts = [f":warning: {message}"]
    if hint:
        parts.append(hint)
    if usage:
        parts.append(usage)
    return Reply("\n".join(parts), error=True)
