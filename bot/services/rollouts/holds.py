"""Things that can hold a rollout at its current step: sign-off gates, checklists, success
criteria. Each feature adds its own `AdvanceHold` to `RolloutService.holds`; the service asks
all of them, inside the rollout's locked transaction, before any advance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from bot.domain.message import Message
from bot.domain.plan import Plan
from bot.domain.rollout import RolloutSnapshot
from bot.store.models import RolloutRow


@dataclass(frozen=True)
class HoldQuery:
    """What a hold is asked about: the rollout (its locked row, plan and snapshot) in the
    transaction `session`, at time `at`.

    `automatic` is True when the scheduler advances after a bake time, False when a person
    asks; a hold may apply to both (a gate) or only to automatic advances."""

    session: Session
    row: RolloutRow
    plan: Plan
    snapshot: RolloutSnapshot
    at: datetime
    automatic: bool


class AdvanceHold(Protocol):
    """Says why a rollout may not leave its current step yet, or None when it may."""

    def hold(self, query: HoldQuery) -> Message | None:
        """The reason (one sentence) the step is held, or None.

        The reason is refusal text, kept as a `Message`: an advance it holds is refused with
        `InvalidTransition` quoting it (the scheduler only asks whether there is one).
        """
        ...
