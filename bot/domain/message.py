"""Messages as data: words with the people, groups, emphasis and signs in them marked.

Services say what happened as a `Message`; each chat adapter writes it in its own syntax
(Slack mrkdwn with `<@U…>` mentions in bot/slack/mrkdwn.py, plain terminal text in
bot/shell/text.py). Plain `str` parts are text from anywhere (users, outside systems,
rollbot's own words): only the adapter turns them into chat syntax, so escaping happens in
one place and a `<!channel>` typed by a user stays text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Mention:
    """A chat user by id (Slack `U…`/`W…`, or a shell user's name)."""

    user_id: str


@dataclass(frozen=True)
class GroupMention:
    """A chat user group by id (Slack `S…`)."""

    group_id: str


@dataclass(frozen=True)
class Channel:
    """A chat channel by id (Slack `C…`; in the shell the id is the channel's name)."""

    channel_id: str


@dataclass(frozen=True)
class Code:
    """Text shown exactly as typed: commands, keys, identifiers."""

    text: str


@dataclass(frozen=True, init=False)
class Strong:
    """Words to stand out (Slack bold), which may hold code: `Strong("Rollback of ",
    Code("chat-v2"))`."""

    parts: tuple[str | Code, ...]

    def __init__(self, *parts: str | Code) -> None:
        object.__setattr__(self, "parts", tuple(p for p in parts if p != ""))

    @property
    def text(self) -> str:
        """The words without markup (code as its bare text, as a `Code` part reads)."""
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)


@dataclass(frozen=True)
class Preformatted:
    """A block of text kept exactly as it is, newlines included (a command's output)."""

    text: str


@dataclass(frozen=True)
class Link:
    """A link with a label."""

    url: str
    label: str


class Sign(StrEnum):
    """A sign before words; each adapter draws it its own way (a Slack emoji, a word) and
    puts a space after it, so `Message(Sign.WARNING, "no data")` needs no space of its own."""

    WARNING = "warning"
    OK = "ok"
    FAILED = "failed"
    WAITING = "waiting"
    ROLLBACK = "rollback"
    INCIDENT = "incident"
    PIN = "pin"
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    CHECKED = "checked"
    UNCHECKED = "unchecked"
    OVERDUE = "overdue"
    PENDING = "pending"
    STOPPED = "stopped"
    TIMEOUT = "timeout"
    REMINDER = "reminder"
    POSTMORTEM = "postmortem"
    ANNOUNCE = "announce"
    REPEAT = "repeat"


Part = str | Mention | GroupMention | Channel | Strong | Code | Preformatted | Link | Sign


@dataclass(frozen=True, init=False)
class Message:
    """A sequence of parts; `Message("advanced by ", Mention("U1"))`."""

    parts: tuple[Part, ...]

    def __init__(self, *parts: Part | Message) -> None:
        flat: list[Part] = []
        for part in parts:
            if isinstance(part, Message):
                flat.extend(part.parts)
            elif part != "":
                flat.append(part)
        object.__setattr__(self, "parts", tuple(flat))

    def __add__(self, other: Part | Message) -> Message:
        return Message(self, other)

    def __radd__(self, other: Part | Message) -> Message:
        return Message(other, self)

    def __bool__(self) -> bool:
        return bool(self.parts)

    def __contains__(self, text: str) -> bool:
        """True when the plain text of the message contains `text`."""
        return text in self.plain()

    @staticmethod
    def join(separator: Part | Message, items: Iterable[Part | Message]) -> Message:
        """The items with the separator between them."""
        joined: list[Part | Message] = []
        for i, item in enumerate(items):
            if i:
                joined.append(separator)
            joined.append(item)
        return Message(*joined)

    def plain(self) -> str:
        """The message without any markup, for logs, the audit table and exceptions."""
        return "".join(plain_part(p) for p in self.parts)

    def named(self, name: Callable[[str], str]) -> str:
        """The message without markup, each mentioned person written by `name` (a file such
        as a post-mortem shows people's names, not ids)."""
        return "".join(
            name(p.user_id) if isinstance(p, Mention) else plain_part(p) for p in self.parts
        )

    def __str__(self) -> str:
        return self.plain()


def plain_part(part: Part) -> str:
    """One part as plain text (`@U1` for a mention)."""
    match part:
        case Sign():
            return ""
        case str():
            return part
        case Mention(user_id=user):
            return f"@{user}"
        case GroupMention(group_id=group):
            return f"@{group}"
        case Channel(channel_id=channel):
            return f"#{channel}"
        case Strong(text=text) | Code(text=text) | Preformatted(text=text):
            return text
        case Link(url=url, label=label):
            return f"{label} ({url})" if label and label != url else url
    raise TypeError(f"not a message part: {part!r}")


def person(user_id: str) -> Part:
    """A person by chat user id: a `Mention` for a Slack user id (`U…`/`W…`), the name as
    text for anyone else (a shell user, rollbot itself)."""
    return Mention(user_id) if user_id[:1] in ("U", "W") else user_id


def as_message(text: str | Message) -> Message:
    """A message from text or a message."""
    return text if isinstance(text, Message) else Message(text)
