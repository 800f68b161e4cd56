"""What a command answers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain.message import Message, Sign, Strong
from bot.services.digests.digest import Digest
from bot.services.rollouts.views import RolloutView


@dataclass(frozen=True)
class Reply:
    """A private answer to the person who typed the command.

    `text` is the command's own mrkdwn (the shell shows it as plain text); `views` are
    rollouts to show as cards; `error` marks a refusal (nothing changed). `message`, when
    set, is shown instead of `text`, by each chat in its own way (with user and outside
    text escaped in Slack); `text` then holds it as plain text. `digest`, when set, is
    shown instead of both.
    """

    text: str
    views: list[RolloutView] = field(default_factory=list)
    error: bool = False
    message: Message | None = None
    # A digest to show (`/rollout digest`): each chat renders it its own way; `text` then
    # holds a plain summary of it.
    digest: Digest | None = None

    @staticmethod
    def said(message: Message, views: list[RolloutView], error: bool = False) -> Reply:
        """A reply that is a message (each chat writes it its own way), with the rollouts it
        is about."""
        return Reply(message.plain(), views, error, message)


def refusal_message(message: str | Message, hint: str | Message = "", usage: str = "") -> Message:
    """What is wrong, then what would be right, then the usage, a line each."""
    parts: list[str | Message] = [Message(Sign.WARNING, message)]
    if hint:
        parts.append(hint)
    if usage:
        parts.append(usage_message(usage))
    return Message.join("\n", parts)


# The emphasis a command's usage text is written with (`*Usage:*`).
_STRONG = re.compile(r"\*([^*\n]+)\*")


def usage_message(usage: str) -> Message:
    """A command's own usage text (written as mrkdwn: `*bold*`, and code in backticks, which
    both chats show as they are) as a message, so that each chat writes its emphasis its own
    way: bold in Slack, plain in the terminal."""
    parts: list[str | Strong] = []
    at = 0
    for found in _STRONG.finditer(usage):
        parts += [usage[at : found.start()], Strong(found.group(1))]
        at = found.end()
    return Message(*parts, usage[at:])


def refusal(message: str | Message, hint: str | Message = "", usage: str = "") -> Reply:
    """A refusal saying what is wrong, what would be right, and the usage."""
    return Reply.said(refusal_message(message, hint, usage), [], error=True)


MAX_ECHO = 40


def echo(text: str, limit: int = MAX_ECHO) -> str:
    """What someone typed, shortened for a reply that repeats it (a 1 MB argument is not
    sent back)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
