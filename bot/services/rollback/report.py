"""What a rollback tells listeners and the confirmation: its report and its preview.

What it says in the rollout's thread are events (bot/services/rollback/events.py), worded by
bot/wording/rollback.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.rollback import FiredTrigger
from bot.domain.runbook import FULL
from bot.providers.runbook.base import StepResult
from bot.services.rollback.events import StepShown


@dataclass(frozen=True)
class RollbackReport:
    """A rollback as listeners see it, once when it starts and once when it finishes.

    Listeners (`RollbackService.listeners`) get this; an incident feature can open an incident
    from the start report and add the outcome to its timeline from the finish report.
    """

    rollback_id: int
    rollout_id: int
    flag_key: str
    automatic: bool
    actor_id: str
    reason: str
    started_at: datetime
    triggers: list[FiredTrigger] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    finished: bool = False
    failed: bool = False
    failed_step: str | None = None
    finished_at: datetime | None = None
    channel_id: str | None = None
    message_ts: str | None = None
    runbook: str = FULL
    """The plan's runbook that ran; a partial one left the rollout running, paused."""
    partial: bool = False

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy (for logs, webhooks, other features' tables)."""
        return {
            "rollback_id": self.rollback_id,
            "rollout_id": self.rollout_id,
            "flag_key": self.flag_key,
            "automatic": self.automatic,
            "actor": self.actor_id,
            "reason": self.reason,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "triggers": [t.as_dict() for t in self.triggers],
            "steps": [s.as_dict() for s in self.steps],
            "finished": self.finished,
            "failed": self.failed,
            "failed_step": self.failed_step,
            "runbook": self.runbook,
            "partial": self.partial,
        }


@dataclass(frozen=True)
class RollbackPreview:
    """What `/rollback <flag>` would do, for the confirmation modal."""

    flag_key: str
    rollout_id: int
    state: str
    percentage: int
    steps: tuple[StepShown, ...]
    retry_of_failed: bool = False
    runbook: str = FULL
    partial: bool = False
    description: str = ""
    runbooks: list[tuple[str, str]] = field(default_factory=list)
    """Every runbook the plan offers: (name, what it is for), `full` first."""
    other_steps: list[tuple[str, tuple[StepShown, ...]]] = field(default_factory=list)
    """The steps of each other runbook, for a menu that shows what each choice runs."""
