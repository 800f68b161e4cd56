"""The words of the flag's lines on a rollout card: its segments, and monitoring being off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.domain.message import Message, Strong
from bot.services.events import Event
from bot.services.flags.events import FlagMonitoringOff, FlagSegmentsNote


def segments_note(e: FlagSegmentsNote) -> Message:
    """The segments' percentages and everyone else's."""
    parts = ", ".join(f"{name} {pct}%" for name, pct in sorted(e.segments.items()))
    return Message(Strong("Segments:"), f" {parts}; everyone else {e.everyone_else}%")


def monitoring_off(e: FlagMonitoringOff) -> Message:
    """The warning that the flag's triggers are not evaluated."""
    return Message(
        Strong("Monitoring off"),
        " for this flag (monitoring_enabled: false): triggers are not evaluated",
    )


WORDS: dict[type[Event], Callable[[Any], Message]] = {
    FlagSegmentsNote: segments_note,
    FlagMonitoringOff: monitoring_off,
}
