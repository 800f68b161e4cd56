"""The rollout service: the one door adapters and other features use for rollouts.

`RolloutService` composes three collaborators sharing one `RolloutContext`: reading
(bot/services/rollouts/reading.py), announcing — card, thread, outbox —
(bot/services/rollouts/announce.py) and changing (bot/services/rollouts/changes.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.clock import Clock
from bot.domain.actor import Actor
from bot.domain.message import Message
from bot.domain.plan import Plan
from bot.domain.roles import RoleDirectory
from bot.domain.rollout import RolloutSnapshot
from bot.providers.flags.base import FlagProvider
from bot.services.permissions import Permissions
from bot.services.plans import PlanCatalog
from bot.services.rollouts.announce import RolloutAnnouncer
from bot.services.rollouts.changes import RolloutChanges, Transform
from bot.services.rollouts.context import Annotator, Outcome, Preload, RolloutContext
from bot.services.rollouts.holds import AdvanceHold
from bot.services.rollouts.notifier import NullNotifier, RolloutNotifier, ThreadText
from bot.services.rollouts.reading import RolloutReader
from bot.services.rollouts.views import RolloutView
from bot.store.database import Database
from bot.store.models import RolloutRow


class RolloutService:
    """Runs plans against flags: reading, starting, advancing, pausing, resuming and setting
    percentages of rollouts, and telling the chat about each change."""

    def __init__(
        self,
        db: Database,
        plans: PlanCatalog,
        flags: FlagProvider,
        clock: Clock,
        *,
        notifier: RolloutNotifier | None = None,
        default_plan: str | None = None,
        advance_guard: timedelta = timedelta(seconds=30),
        permissions: Permissions | None = None,
    ) -> None:
        self._build(
            RolloutContext(
                db=db,
                plans=plans,
                flags=flags,
                clock=clock,
                notifier=notifier or NullNotifier(),
                permissions=permissions or Permissions(RoleDirectory()),
                default_plan=default_plan,
                advance_guard=advance_guard,
            )
        )

    def _build(self, ctx: RolloutContext) -> None:
        self.ctx = ctx
        self.reader = RolloutReader(ctx)
        self.announcer = RolloutAnnouncer(ctx, self.reader)
        self.changes = RolloutChanges(ctx, self.reader, self.announcer)

    # -- what other features and adapters read -------------------------------------------

    @property
    def db(self) -> Database:
        """The database rollouts live in."""
        return self.ctx.db

    @property
    def clock(self) -> Clock:
        """The clock every change is timed by."""
        return self.ctx.clock

    @property
    def flags(self) -> FlagProvider:
        """The flag provider changes are applied through."""
        return self.ctx.flags

    @property
    def plans(self) -> PlanCatalog:
        """The plans rollouts start from."""
        return self.ctx.plans

    @property
    def permissions(self) -> Permissions:
        """Who may do what."""
        return self.ctx.permissions

    @property
    def default_plan(self) -> str | None:
        """The plan used when none is named or written for the flag."""
        return self.ctx.default_plan

    @property
    def advance_guard(self) -> timedelta:
        """How soon after a step a typed advance counts as a repeat."""
        return self.ctx.advance_guard

    @property
    def holds(self) -> list[AdvanceHold]:
        """What may hold a rollout at its step (features add theirs while being built)."""
        return self.ctx.holds

    @property
    def annotators(self) -> list[Annotator]:
        """What adds features' state to a rollout's view."""
        return self.ctx.annotators

    @property
    def preloads(self) -> list[Preload]:
        """What reads the annotators' data for many rollouts at once."""
        return self.ctx.preloads

    @property
    def after_change(self) -> list[Callable[[Outcome], None]]:
        """Called with each announced outcome, after its commit."""
        return self.ctx.after_change

    @property
    def after_changes(self) -> list[Callable[[list[Outcome]], None]]:
        """Called once with the outcomes announced together, after their commit."""
        return self.ctx.after_changes

    @property
    def notifier(self) -> RolloutNotifier:
        """The chat that hears about rollouts."""
        return self.ctx.notifier

    # -- reading ---------------------------------------------------------------------------

    def status(self, flag_key: str) -> RolloutView:
        """The flag's active rollout, or its latest one."""
        return self.reader.status(flag_key)

    def active(self) -> list[RolloutView]:
        """Every running or paused rollout."""
        return self.reader.active()

    def recent(self, limit: int = 20) -> list[RolloutView]:
        """The newest rollouts, active or finished."""
        return self.reader.recent(limit)

    def view(self, rollout_id: int) -> RolloutView:
        """One rollout by id."""
        return self.reader.view(rollout_id)

    def view_of(self, s: Session, row: RolloutRow, now: datetime) -> RolloutView:
        """The view of a rollout row read in `s`, with every annotator's additions."""
        return self.reader.view_of(s, row, now)

    def flag_for_rollout(self, rollout_id: int) -> str:
        """The flag key of a rollout (buttons carry rollout ids)."""
        return self.reader.view(rollout_id).flag_key

    # -- telling ---------------------------------------------------------------------------

    def announce(self, outcome: Outcome) -> Outcome:
        """Show the card and post the event of a committed change (see `change_locked`)."""
        return self.announcer.announce(outcome)

    def post(self, rollout_id: int, message: ThreadText) -> None:
        """One message in a rollout's thread (failures go to the outbox)."""
        self.announcer.post(rollout_id, message)

    def deliver_pending(self) -> int:
        """Retry notifications that failed before; return how many got through."""
        return self.announcer.deliver_pending()

    # -- changing --------------------------------------------------------------------------

    def start(
        self,
        flag_key: str,
        plan_name: str | None,
        actor: Actor,
        channel_id: str | None = None,
        force: bool = False,
    ) -> Outcome:
        """Start a rollout of `flag_key` with a plan (named, written for the flag, or default);
        after a rollback that did not finish, only with `force`."""
        return self.changes.start(flag_key, plan_name, actor, channel_id, force)

    def advance(self, flag_key: str, actor: Actor, expected_step: int | None = None) -> Outcome:
        """Move to the next step now (`expected_step`: the step a button was pressed on)."""
        return self.changes.advance(flag_key, actor, expected_step)

    def pause(self, flag_key: str, actor: Actor, expected_step: int | None = None) -> Outcome:
        """Hold the rollout where it is."""
        return self.changes.pause(flag_key, actor, expected_step)

    def resume(self, flag_key: str, actor: Actor, expected_step: int | None = None) -> Outcome:
        """Continue a paused rollout."""
        return self.changes.resume(flag_key, actor, expected_step)

    def set_percentage(
        self, flag_key: str, percentage: int, actor: Actor, force: bool = False
    ) -> Outcome:
        """Set the percentage by hand; lowering it needs `force`."""
        return self.changes.set_percentage(flag_key, percentage, actor, force)

    def advance_due(self) -> list[Outcome]:
        """Advance every rollout whose bake time has passed, each step once."""
        return self.changes.advance_due()

    def held(
        self,
        s: Session,
        row: RolloutRow,
        plan: Plan,
        snap: RolloutSnapshot,
        at: datetime,
        automatic: bool,
    ) -> Message | None:
        """The first reason any registered hold gives for keeping the current step."""
        return self.changes.held(s, row, plan, snap, at, automatic)

    def change_locked(
        self,
        s: Session,
        row: RolloutRow,
        action: str,
        transform: Transform,
        actor: Actor,
        now: datetime,
    ) -> Outcome:
        """Apply a change to a rollout row the caller has locked in `s`, in the caller's
        transaction; pass the outcome to `announce` after the commit."""
        return self.changes.change_locked(s, row, action, transform, actor, now)
