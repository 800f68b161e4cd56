"""Messages as JSON, for the rows that keep one (the outbox's payloads, timeline entries):
each part a string or a one-key object, so a message read back is the one written.

Strong words are `{"strong": "text"}`, or, when they hold code, `{"strong": ["text",
{"code": "x"}, …]}`; rows written before strong words could hold code have the first form.
"""

from __future__ import annotations

import re
from typing import Any

from bot.domain.message import (
    Channel,
    Code,
    GroupMention,
    Link,
    Mention,
    Message,
    Part,
    Preformatted,
    Sign,
    Strong,
)


def message_data(message: Message) -> list[Any]:
    """A message as JSON for a payload: each part as a string or a one-key object."""
    out: list[Any] = []
    for part in message.parts:
        match part:
            case Sign():
                out.append({"sign": part.value})
            case str():
                out.append(part)
            case Mention(user_id=user):
                out.append({"mention": user})
            case GroupMention(group_id=group):
                out.append({"group": group})
            case Channel(channel_id=channel):
                out.append({"channel": channel})
            case Strong(parts=inner):
                plain = all(isinstance(p, str) for p in inner)
                out.append({"strong": part.text if plain else [_inline_data(p) for p in inner]})
            case Code(text=text):
                out.append({"code": text})
            case Preformatted(text=text):
                out.append({"pre": text})
            case Link(url=url, label=label):
                out.append({"link": url, "label": label})
    return out


def _inline_data(part: str | Code) -> str | dict[str, str]:
    return part if isinstance(part, str) else {"code": part.text}


def message_of(data: object) -> Message:
    """The message a payload keeps (see `message_data`). A str is a row queued before
    messages were data: it comes back as text (its mrkdwn, if any, then shows as written)."""
    if isinstance(data, str):
        return Message(data)
    parts: list[Part] = []
    for item in data if isinstance(data, list) else []:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, dict):
            parts.append(_part_of(item))
    return Message(*parts)


def _part_of(item: dict[str, Any]) -> Part:
    if "sign" in item:
        return Sign(item["sign"])
    if "mention" in item:
        return Mention(str(item["mention"]))
    if "group" in item:
        return GroupMention(str(item["group"]))
    if "channel" in item:
        return Channel(str(item["channel"]))
    if "strong" in item:
        return _strong_of(item["strong"])
    if "code" in item:
        return Code(str(item["code"]))
    if "pre" in item:
        return Preformatted(str(item["pre"]))
    if "link" in item:
        return Link(str(item["link"]), str(item.get("label", "")))
    return str(item)


def _strong_of(data: object) -> Strong:
    if not isinstance(data, list):
        return Strong(str(data))
    inner: list[str | Code] = []
    for item in data:
        if isinstance(item, dict) and "code" in item:
            inner.append(Code(str(item["code"])))
        else:
            inner.append(str(item))
    return Strong(*inner)


# Timeline entries written before messages were data kept Slack mentions and channel links
# in their text; read back, those become parts again (anything else stays text).
_LEGACY = re.compile(r"<@([UW][A-Z0-9_]+)(?:\|[^>]*)?>|<#([CG][A-Z0-9]+)(?:\|[^>]*)?>")


def legacy_message(text: str) -> Message:
    """A message from text stored before messages were data."""
    parts: list[Part] = []
    at = 0
    for match in _LEGACY.finditer(text):
        parts.append(text[at : match.start()])
        user, channel = match.groups()
        parts.append(Mention(user) if user else Channel(channel))
        at = match.end()
    parts.append(text[at:])
    return Message(*parts)
