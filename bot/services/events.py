"""What happened, as data: the events services hand to the chat ports and keep in the outbox.

A service says *what* happened: an event is a frozen dataclass of facts (flag keys, step
numbers, percentages, times, who did it), declared in one line with its stable kind
(`@event("rollout.changed")` above a class of fields; `kind_of` reads it back). The words are
the adapters' (bot/wording/, shared by Slack and the shell), and each chat writes those words
in its own syntax. An event that waits in the outbox is kept as data (`event_data`,
`event_of`) and worded when it is delivered.

`Said` is what a port is handed: an event, or a `Message` for what is not an event yet
(refusals and records such as the incident timeline keep their words where they are made).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, is_dataclass
from typing import Any, ClassVar, Protocol, TypeVar, dataclass_transform

from pydantic import TypeAdapter

from bot.domain.message import Message
from bot.store import messages


class Event(Protocol):
    """A frozen dataclass registered with `@event`: one kind of thing that happened (its kind:
    `kind_of`)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]


Said = Event | Message
"""What a service hands a chat port: an event for the adapter to word, or a message."""

E = TypeVar("E")

# Event classes by kind, and how each is read back from its data.
_KINDS: dict[str, type[Any]] = {}
_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}
Upgrade = Callable[[dict[str, Any]], dict[str, Any]]
# How rows written before a kind's fields changed read back, by kind.
_OLDER: dict[str, Upgrade] = {}


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def event(kind: str) -> Callable[[type[E]], type[E]]:
    """Declare the decorated class an event of `kind` (stable: outbox rows name it): it becomes
    a frozen dataclass of its annotated fields, registered under `kind`, which it keeps as its
    `kind` class attribute."""

    if not isinstance(kind, str) or not kind:
        # A bare `@event` over a class (the old form) hands the class in as the kind.
        raise TypeError(f"an event's kind is a non-empty string, as in @event('x.y'): {kind!r}")

    def register(cls: type[E]) -> type[E]:
        if (
            is_dataclass(cls)
            or "kind" in vars(cls)
            or "kind" in vars(cls).get("__annotations__", {})
        ):
            # @event makes the dataclass and sets the kind: a class that declares either
            # is written the old way, or its field would shadow the kind.
            raise TypeError(f"{cls.__name__}: declare it as @event({kind!r}) over a plain class")
        if kind in _KINDS:
            raise ValueError(f"two events of kind {kind!r}")
        made = dataclass(frozen=True)(cls)
        # setattr: the class does not declare `kind` (mypy reads it with `kind_of`).
        setattr(made, "kind", kind)  # noqa: B010
        _KINDS[kind] = made
        _ADAPTERS[made] = TypeAdapter(made)
        return made

    return register


def kind_of(said: Event | type[Event]) -> str:
    """The kind an event (or its class) was registered under with `@event`."""
    cls = said if isinstance(said, type) else type(said)
    kind = cls.__dict__.get("kind")
    if not isinstance(kind, str) or _KINDS.get(kind) is not cls:
        raise TypeError(f"not a registered event: {cls.__name__}")
    return kind


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
    return {"event": kind_of(said), "data": adapter.dump_python(said, mode="json")}


def event_of(data: dict[str, Any]) -> Event:
    """The event `event_data` wrote (its kind must still be registered)."""
    cls = _KINDS.get(str(data.get("event")))
    if cls is None:
        raise ValueError(f"no event of kind {data.get('event')!r}")
    fields = data.get("data") or {}
    upgrade = _OLDER.get(kind_of(cls))
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
