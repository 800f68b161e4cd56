"""What the rollout card says about its flag, as data (bot/wording/flags.py words it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.services.events import event


@event
@dataclass(frozen=True)
class FlagSegmentsNote:
    """The flag serves some segments their own percentage."""

    kind: ClassVar[str] = "flags.segments"
    # Each segment's percentage, by segment name.
    segments: dict[str, int]
    # The percentage of everyone in no segment.
    everyone_else: int


@event
@dataclass(frozen=True)
class FlagMonitoringOff:
    """The flag's metrics are not watched (`monitoring_enabled: false`): its triggers are
    not evaluated."""

    kind: ClassVar[str] = "flags.monitoring_off"
    flag_key: str
