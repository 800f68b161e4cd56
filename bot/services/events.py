"""What happened, as data: the events services hand to the chat ports and keep in the outbox.

A service says *what* happened: an event is a frozen dataclass of facts (flag keys, step
numbers, percentages, times, who did it), declared in one line with its stable kind
(`class Changed(Event, kind="rollout.changed"):` over its fields). The words are the adapters'
(bot/wording/, shared by Slack and the shell), and each chat writes those words
in its own syntax. An event that waits in the outbox is kept as data (`event_data`,
`event_of`) and worded when it is delivered.

`Said` is what a port is handed: an event, or a `Message` for what is not an event yet
(refusals and records such as the incident timeline keep their words where they are made).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, dataclass_transform

from pydantic import TypeAdapter

from bot.domain.message import Message
from bot.store import messages


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Event:
    """One kind of thing that happened, declared as `class X(Event, kind="x.y"):` over its
    fields: the class becomes a frozen dataclass registered under `kind` (stable: outbox rows
    name it), which it keeps as its `kind` class attribute."""

    kind: ClassVar[str]

    def __init_subclass__(cls, *, kind: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in vars(cls).get("__annotations__", {}):
            # A field named `kind` would hide the event's kind.
            raise TypeError(f"{cls.__name__}: an event's kind is its class keyword, not a field")
        if kind in _KINDS:
            raise ValueError(f"two events of kind {kind!r}")
        cls.kind = kind
        dataclass(frozen=True)(cls)
        _KINDS[kind] = cls
        _ADAPTERS[cls] = TypeAdapter(cls)


Said = Event | Message
"""What a service hands a chat port: an event for the adapter to word, or a message."""

Upgrade = Callable[[dict[str, Any]], dict[str, Any]]
# Event classes by kind, how each is read back from its data, and how rows written before a
# kind's fields changed read back.
_KINDS: dict[str, type[Event]] = {}
_ADAPTERS: dict[type[Event], TypeAdapter[Any]] = {}
_OLDER: dict[str, Upgrade] = {}


def reads_older(kind: str) -> Callable[[Upgrade], Upgrade]:
    """Register how an older row of `kind` reads back: the decorated function turns the data
    an earlier release wrote into the current fields, and leaves current data as it is (an
    event may wait in the outbox across an upgrade)."""

    def register(upgrade: Upgrade) -> Upgrade:
        _OLDER[kind] = upgrade
        return upgrade

    return register


def event_data(said: Event) -> dict[str, Any]:
    """An event as JSON for a row: its kind and its fields."""
    adapter = _ADAPTERS.get(type(said))
    if adapter is None:
        raise TypeError(f"not a registered event: {type(said).__name__}")
    return {"event": said.kind, "data": adapter.dump_python(said, mode="json")}


def event_of(data: dict[str, Any]) -> Event:
    """The event `event_data` wrote (its kind must still be registered)."""
    cls = _KINDS.get(str(data.get("event")))
    if cls is None:
        raise ValueError(f"no event of kind {data.get('event')!r}")
    fields = data.get("data") or {}
    upgrade = _OLDER.get(cls.kind)
    value: Event = _ADAPTERS[cls].validate_python(upgrade(fields) if upgrade else fields)
    return value


def said_data(said: Said) -> Any:
    """What a service said, as JSON for a row: an event's data, or a message's parts."""
    return messages.message_data(said) if isinstance(said, Message) else event_data(said)


def said_of(data: Any) -> Said:
    """What `said_data` wrote: an event, or a message (rows from before events, too)."""
    if isinstance(data, dict) and "event" in data:
        return event_of(data)
    return messages.message_of(data)
