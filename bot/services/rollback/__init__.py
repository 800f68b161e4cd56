"""Rolling back: watching metrics (triggers and success criteria), automatic and manual
rollback, and the runbook run that does it."""

from bot.services.rollback.service import RollbackService
from bot.services.rollback.watch import MetricsWatcher

__all__ = ["MetricsWatcher", "RollbackService"]
