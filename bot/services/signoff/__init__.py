"""The sign-off chain: gates, approve and reject, asking and reminding signers, checklists
and the rollout's report."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.services.signoff.feature import Signoffs
    from bot.services.signoff.service import SignoffService

__all__ = ["SignoffService", "Signoffs"]

# The facade is imported when first asked for, so `rollbot config check`, which reads only
# config_check.py of this package, does not import the whole service (and the database).
_LAZY = {
    "Signoffs": "bot.services.signoff.feature",
    "SignoffService": "bot.services.signoff.service",
}


def __getattr__(name: str) -> object:
    """`Signoffs` and `SignoffService`, imported on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
