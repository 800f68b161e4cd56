"""The sign-off chain: gates, approve and reject, asking and reminding signers, checklists
and the rollout's report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services.lazy import lazy_exports

if TYPE_CHECKING:
    from bot.services.signoff.feature import Signoffs
    from bot.services.signoff.service import SignoffService

__all__ = ["SignoffService", "Signoffs"]

# `rollbot config check` reads only config_check.py of this package.
__getattr__ = lazy_exports(
    __name__,
    {
        "Signoffs": "bot.services.signoff.feature",
        "SignoffService": "bot.services.signoff.service",
    },
)
