"""Flags as applications read them: the flag API, the in-memory flag state, OFREP and the
Unleash client API, and the exposures they count."""

from bot.services.flags.exposures import FlagExposures
from bot.services.flags.service import FlagService, UnknownSegmentError
from bot.services.flags.snapshot import FlagSnapshot, FlagState

__all__ = [
    "FlagExposures",
    "FlagService",
    "FlagSnapshot",
    "FlagState",
    "UnknownSegmentError",
]
