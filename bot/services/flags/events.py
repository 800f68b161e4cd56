"""What the rollout card says about its flag, as data (bot/wording/flags.py words it)."""

from __future__ import annotations

from bot.services.events import Event


class FlagSegmentsNote(Event, kind="flags.segments"):
    """The flag serves some segments their own percentage."""

    # Each segment's percentage, by segment name.
    segments: dict[str, int]
    # The percentage of everyone in no segment.
    everyone_else: int


class FlagMonitoringOff(Event, kind="flags.monitoring_off"):
    """The flag's metrics are not watched (`monitoring_enabled: false`): its triggers are
    not evaluated."""

    flag_key: str
