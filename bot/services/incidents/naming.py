"""How incident messages name people and channels, as message parts (each chat adapter
writes them its own way)."""

from __future__ import annotations

from typing import TypeGuard

from bot.domain.actor import Actor, Via
from bot.domain.message import Link, Mention, Part


def is_chat_user(user_id: str | None) -> TypeGuard[str]:
    """True for Slack user ids (people that can be invited and messaged)."""
    return user_id is not None and user_id.startswith(("U", "W"))


def person(user_id: str) -> Part:
    """A chat user as a mention; anyone else (an API caller, an email) by name."""
    return Mention(user_id) if is_chat_user(user_id) else user_id


def named(actor: Actor) -> Part:
    """Who did it: a mention for a Slack user, the plain id for the shell, API or rollbot."""
    return Mention(actor.id) if actor.via is Via.SLACK and is_chat_user(actor.id) else actor.id


def channel(channel_id: str) -> Part:
    """A link to a chat channel by id (`#name` in the shell, whose ids are names)."""
    # Message has no channel part yet; a label-less link to `#<id>` is what Slack writes
    # as a channel link and the shell prints as `#<id>`.
    return Link(f"#{channel_id}", "")
