"""The rollout service's base: its collaborators, and reading rollouts.

`RolloutService` (bot/services/rollouts/service.py) builds on this through `RolloutAnnounce`
(bot/services/rollouts/announce.py), the way the incident service chains its mixins:
reading here, telling people there, changing in rollouts.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.clock import Clock
from bot.domain.errors import NotFound
from bot.domain.roles import RoleDirectory
from bot.providers.flags.base import FlagProvider
from bot.services.permissions import Permissions
from bot.services.plans import PlanCatalog
from bot.services.rollouts.holds import AdvanceHold
from bot.services.rollouts.notifier import RolloutNotifier
from bot.services.rollouts.views import RolloutView, build_view
from bot.store import rollouts
from bot.store.database import Database
from bot.store.models import RolloutRow

Annotator = Callable[[Session, RolloutRow, RolloutView, datetime], RolloutView]
"""Adds a feature's state to a rollout's view (e.g. the sign-off chain on the card)."""


@dataclass(frozen=True)
class Outcome:
    """What a change did: the rollout as it is now, and a sentence for its thread."""

    view: RolloutView
    event: str


class RolloutCore:
    """Runs plans against flags: the collaborators, and reading rollouts."""

    def __init__(
        self,
        db: Database,
        plans: PlanCatalog,
        flags: FlagProvider,
        notifier: RolloutNotifier,
        clock: Clock,
        default_plan: str | None = None,
        advance_guard: timedelta = timedelta(seconds=30),
        permissions: Permissions | None = None,
    ) -> None:
        self.db = db
        self.plans = plans
        self.flags = flags
        self.notifier = notifier
        self.clock = clock
        self.default_plan = default_plan
        self.advance_guard = advance_guard
        self.permissions = permissions or Permissions(RoleDirectory())
        self.holds: list[AdvanceHold] = []
        self.annotators: list[Annotator] = []
        # Called with each announced outcome, after its commit (e.g. to ask for sign-offs).
        self.after_change: list[Callable[[Outcome], None]] = []

    # -- reading -------------------------------------------------------------------------

    def status(self, flag_key: str) -> RolloutView:
        """The flag's active rollout, or its latest one."""
        with self.db.session() as s:
            row = rollouts.active_for_flag(s, flag_key) or rollouts.latest_for_flag(s, flag_key)
            if row is None:
                raise NotFound(f"No rollout for `{flag_key}`.", self._known_hint(s))
            return self.view_of(s, row, self.clock.now())

    def active(self) -> list[RolloutView]:
        """Every running or paused rollout."""
        now = self.clock.now()
        with self.db.session() as s:
            return [self.view_of(s, r, now) for r in rollouts.active(s)]

    def recent(self, limit: int = 20) -> list[RolloutView]:
        """The newest rollouts, active or finished."""
        now = self.clock.now()
        with self.db.session() as s:
            return [self.view_of(s, r, now) for r in rollouts.recent(s, limit)]

    def view(self, rollout_id: int) -> RolloutView:
        """One rollout by id."""
        with self.db.session() as s:
            row = rollouts.by_id(s, rollout_id)
            if row is None:
                raise NotFound(f"Rollout {rollout_id} does not exist.")
            return self.view_of(s, row, self.clock.now())

    def view_of(self, s: Session, row: RolloutRow, now: datetime) -> RolloutView:
        """The view of a rollout row read in `s`, with every annotator's additions."""
        view = build_view(row, now)
        for annotate in self.annotators:
            view = annotate(s, row, view, now)
        return view

    def _known_hint(self, s: Session) -> str:
        keys = sorted({r.flag_key for r in rollouts.recent(s, 50)})
        if not keys:
            return "No rollouts yet: start one with `/rollout start <flag> [plan]`."
        return "Rollouts exist for: " + ", ".join(f"`{k}`" for k in keys) + "."

    def flag_for_rollout(self, rollout_id: int) -> str:
        """The flag key of a rollout (buttons carry rollout ids)."""
        return self.view(rollout_id).flag_key
