"""What a command answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.message import GroupMention, Mention, Message, plain_part
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


def reply_text(message: str | Message) -> str:
    """A refusal's message or hint as the text a `Reply` carries.

    Replies are still mrkdwn (the shell plain-texts them), so the people a refusal names
    become mentions here; every other part is written as it reads, as refusal text always
    was. Goes away when replies carry a `Message` for each adapter to render.
    """
    if isinstance(message, str):
        return message
    out: list[str] = []
    for part in message.parts:
        match part:
            case Mention(user_id=user) if _is_slack_user(user):
                out.append(f"<@{user}>")
            case GroupMention(group_id=group):
                out.append(f"<!subteam^{group}>")
            case Mention(user_id=user):
                out.append(user)
            case _:
                out.append(plain_part(part))
    return "".join(out)


def _is_slack_user(user_id: str) -> bool:
    return user_id[:1] in ("U", "W") and user_id[1:].replace("_", "").isalnum()


def refusal(message: str | Message, hint: str | Message = "", usage: str = "") -> Reply:
    """A refusal saying what is wrong, what would be right, and the usage."""
    parts = [f":warning: {reply_text(message)}"]
    if hint:
        parts.append(reply_text(hint))
    if usage:
        parts.append(usage)
    return Reply("\n".join(parts), error=True)
