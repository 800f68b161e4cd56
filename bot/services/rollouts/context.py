"""What every part of the rollout service shares: one context given at construction, and
the result of a change (`Outcome`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.clock import Clock
from bot.providers.flags.base import FlagProvider
from bot.services.extensions import Extensions
from bot.services.permissions import Permissions
from bot.services.plans import PlanCatalog
from bot.services.rollouts.holds import AdvanceHold
from bot.services.rollouts.notifier import RolloutNotifier, ThreadText
from bot.services.rollouts.views import RolloutView
from bot.store.database import Database
from bot.store.models import RolloutRow

Annotator = Callable[[Session, RolloutRow, RolloutView, datetime], RolloutView]
"""Adds a feature's state to a rollout's view (e.g. the sign-off chain on the card)."""

Preload = Callable[[Session, Sequence[RolloutRow]], None]
"""Reads, in a few queries, what a feature's annotator needs for many rollouts at once, so
a list of cards does not ask the database once per rollout (e.g. every signature)."""


@dataclass(frozen=True)
class Outcome:
    """What a change did: the rollout as it is now, and the sentence for its thread."""

    view: RolloutView
    event: ThreadText


@dataclass(frozen=True)
class RolloutContext:
    """The database, plans, flags, clock, chat port, permissions and settings that reading,
    announcing and changing rollouts share.

    `holds`, `annotators`, `preloads`, `after_change` and `after_changes` are the extension
    points other features (sign-off, rollback) add to while the container builds the object
    graph; it seals them before `build` returns.
    """

    db: Database
    plans: PlanCatalog
    flags: FlagProvider
    clock: Clock
    notifier: RolloutNotifier
    permissions: Permissions
    default_plan: str | None = None
    advance_guard: timedelta = timedelta(seconds=30)
    holds: Extensions[AdvanceHold] = field(default_factory=lambda: Extensions("holds"))
    annotators: Extensions[Annotator] = field(default_factory=lambda: Extensions("annotators"))
    preloads: Extensions[Preload] = field(default_factory=lambda: Extensions("preloads"))
    # Called with each announced outcome, after its commit (e.g. to ask for sign-offs).
    after_change: Extensions[Callable[[Outcome], None]] = field(
        default_factory=lambda: Extensions("after_change hooks")
    )
    # Called once with the outcomes announced together (a scheduler tick advancing many;
    # a single change comes as a list of one): for a feature that can do a batch's work at
    # once. A feature registers here or in `after_change`, not in both.
    after_changes: Extensions[Callable[[list[Outcome]], None]] = field(
        default_factory=lambda: Extensions("after_changes hooks")
    )

    def seal(self) -> None:
        """Fix the extension points: nothing is added after `build` returns."""
        for point in (self.holds, self.annotators, self.preloads):
            point.seal()
        self.after_change.seal()
        self.after_changes.seal()
