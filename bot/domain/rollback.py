"""Rolling a rollout back: the state change, and why it happened.

A rollback can end any rollout that has not been rolled back already: a running or paused one
(a trigger fired, or someone decided), and a completed one (the feature is at 100% and turns
out to be bad). The flag goes to 0% and the rollout ends in `rolled_back`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.domain.errors import InvalidTransition
from bot.domain.message import Code, Message
from bot.domain.rollout import RolloutSnapshot, RolloutState
from bot.domain.triggers import Trigger


def roll_back(snap: RolloutSnapshot, now: datetime) -> RolloutSnapshot:
    """The rollout, rolled back: no percentage, nothing due."""
    if snap.state is RolloutState.ROLLED_BACK:
        raise InvalidTransition(
            "This rollout is already rolled back; nothing was run.",
            Message("Start it again with ", Code("/rollout start <flag>"), " when it is fixed."),
        )
    return replace(
        snap,
        state=RolloutState.ROLLED_BACK,
        percentage=0,
        step_due_at=None,
        paused_remaining_s=None,
        step_started_at=now,
    )


@dataclass(frozen=True)
class FiredTrigger:
    """A trigger that fired: what it watches, its rule, the values that broke it, and when."""

    name: str
    description: str | None
    query: str
    comparison: str
    threshold: float
    unit: str
    consecutive: int
    values: list[float | None] = field(default_factory=list)
    at: datetime | None = None
    runbook: str | None = None  # the plan's runbook this trigger runs (None: the full one)

    @classmethod
    def of(cls, trigger: Trigger, values: list[float | None], at: datetime) -> FiredTrigger:
        """The fired trigger with the values measured in its breaching streak."""
        return cls(
            trigger.name,
            trigger.description,
            trigger.query,
            trigger.comparison,
            trigger.threshold,
            trigger.unit,
            trigger.consecutive,
            list(values),
            at,
            trigger.runbook,
        )

    def as_dict(self) -> dict[str, object]:
        """For the rollback row, the audit table and listeners."""
        return {
            "name": self.name,
            "query": self.query,
            "comparison": self.comparison,
            "threshold": self.threshold,
            "unit": self.unit,
            "consecutive": self.consecutive,
            "values": self.values,
            "at": self.at.isoformat() if self.at else None,
            "runbook": self.runbook,
        }
