"""Flags as applications read them: the flag API, the in-memory flag state, OFREP and the
Unleash client API, and the exposures they count."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services.lazy import lazy_exports

if TYPE_CHECKING:
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

# `rollbot config check` reads only segment_check.py of this package.
__getattr__ = lazy_exports(
    __name__,
    {
        "FlagExposures": "bot.services.flags.exposures",
        "FlagService": "bot.services.flags.service",
        "UnknownSegmentError": "bot.services.flags.service",
        "FlagSnapshot": "bot.services.flags.snapshot",
        "FlagState": "bot.services.flags.snapshot",
    },
)
