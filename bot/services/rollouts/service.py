"""The rollout service: the one door adapters and other features use for rollouts.

`RolloutService` composes three collaborators sharing one `RolloutContext`: reading
(bot/services/rollouts/reading.py), announcing — card, thread, outbox —
(bot/services/rollouts/announce.py) and changing (bot/services/rollouts/changes.py).
"""

from __future__ import annotations

from datetime import timedelta

from bot.clock import Clock
from bot.domain.roles import RoleDirectory
from bot.providers.flags.base import FlagProvider
from bot.services.permissions import Permissions
from bot.services.plans import PlanCatalog
from bot.services.rollouts.announce import RolloutAnnouncer
from bot.services.rollouts.changes import RolloutChanges
from bot.services.rollouts.context import RolloutContext
from bot.services.rollouts.notifier import NullNotifier, RolloutNotifier
from bot.services.rollouts.reading import RolloutReader
from bot.store.database import Database


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
        # What other services read: the database, clock, flag provider and permissions.
        self.db = ctx.db
        self.clock = ctx.clock
        self.flags = ctx.flags
        self.permissions = ctx.permissions
        # What the container adds features to (then seals): holds on a step, what adds to a
        # card, and what hears each announced outcome after its commit.
        self.holds = ctx.holds
        self.annotators = ctx.annotators
        self.after_change = ctx.after_change
        # Reading many cards at once (their annotators' data in one query each), and what
        # hears the outcomes announced together (a scheduler tick's batch) once.
        self.preloads = ctx.preloads
        self.after_changes = ctx.after_changes
        self.seal = ctx.seal
        # The door's calls are the collaborators' own methods (their signatures and docs).
        # Reading: the flag's active or latest rollout, every active one, the newest ones, one
        # by id, and the view of a row read in the caller's session.
        self.status = self.reader.status
        self.active = self.reader.active
        self.has_active_rollout = self.reader.has_active
        self.recent = self.reader.recent
        self.view = self.reader.view
        self.view_of = self.reader.view_of
        # Telling: the card and event of a committed change, one thread message, the retry of
        # notifications that failed before.
        self.announce = self.announcer.announce
        self.post = self.announcer.post
        self.deliver_pending = self.announcer.deliver_pending
        # Changing: start, advance, pause, resume, set, the scheduler's due advances, the
        # holds' verdict, and a change inside another service's transaction.
        self.start = self.changes.start
        self.advance = self.changes.advance
        self.pause = self.changes.pause
        self.resume = self.changes.resume
        self.set_percentage = self.changes.set_percentage
        self.advance_due = self.changes.advance_due
        self.held = self.changes.held
        self.change_locked = self.changes.change_locked

    def flag_for_rollout(self, rollout_id: int) -> str:
        """The flag key of a rollout (buttons carry rollout ids)."""
        return self.reader.view(rollout_id).flag_key
