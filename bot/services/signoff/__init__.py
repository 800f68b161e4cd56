"""The sign-off chain: gates, approve and reject, asking and reminding signers, checklists
and the rollout's report."""

from bot.services.signoff.feature import Signoffs
from bot.services.signoff.service import SignoffService

__all__ = ["SignoffService", "Signoffs"]
