"""Rollouts: start, advance, pause, resume, set a percentage, advance due steps; the card's
data and the notifications that follow each change."""

from bot.services.rollouts.context import Outcome
from bot.services.rollouts.service import RolloutService

__all__ = ["Outcome", "RolloutService"]
