"""Reading rollouts: the flag's rollout, the active and recent ones, one by id, and the view
of a row with every feature's annotations."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.domain.errors import NotFound
from bot.domain.message import Code, Message
from bot.services.rollouts.context import Outcome as Outcome
from bot.services.rollouts.context import RolloutContext
from bot.services.rollouts.views import RolloutView, build_view
from bot.store import rollouts
from bot.store.models import RolloutRow

# `Outcome` is imported from here by features written before the context module existed.
__all__ = ["Outcome", "RolloutReader"]


def no_rollout(flag_key: str, hint: Message | None = None) -> NotFound:
    """The refusal for a flag that has no rollout; by default the hint says how to start
    one."""
    return NotFound(
        Message("No rollout for ", Code(flag_key), "."),
        hint if hint is not None else Message("Start one with ", Code("/rollout start"), "."),
    )


def current_row(s: Session, flag_key: str) -> RolloutRow:
    """The flag's active rollout, else its latest one; `no_rollout` when it has none."""
    row = rollouts.active_for_flag(s, flag_key) or rollouts.latest_for_flag(s, flag_key)
    if row is None:
        raise no_rollout(flag_key)
    return row


class RolloutReader:
    """Reads rollouts and builds their views."""

    def __init__(self, ctx: RolloutContext) -> None:
        self.ctx = ctx

    def status(self, flag_key: str) -> RolloutView:
        """The flag's active rollout, or its latest one."""
        with self.ctx.db.read() as s:
            row = rollouts.active_for_flag(s, flag_key) or rollouts.latest_for_flag(s, flag_key)
            if row is None:
                raise no_rollout(flag_key, self.known_hint(s))
            return self.view_of(s, row, self.ctx.clock.now())

    def active(self) -> list[RolloutView]:
        """Every running or paused rollout."""
        now = self.ctx.clock.now()
        with self.ctx.db.read() as s:
            return self.views_of(s, rollouts.active(s), now)

    def has_active(self, flag_key: str) -> bool:
        """True while the flag has a running or paused rollout."""
        with self.ctx.db.session() as s:
            return rollouts.active_for_flag(s, flag_key) is not None

    def recent(self, limit: int = 20) -> list[RolloutView]:
        """The newest rollouts, active or finished."""
        now = self.ctx.clock.now()
        with self.ctx.db.read() as s:
            return self.views_of(s, rollouts.recent(s, limit), now)

    def view(self, rollout_id: int) -> RolloutView:
        """One rollout by id."""
        with self.ctx.db.read() as s:
            row = rollouts.by_id(s, rollout_id)
            if row is None:
                raise NotFound(f"Rollout {rollout_id} does not exist.")
            return self.view_of(s, row, self.ctx.clock.now())

    def view_of(self, s: Session, row: RolloutRow, now: datetime) -> RolloutView:
        """The view of a rollout row read in `s`, with every annotator's additions."""
        view = build_view(row, now)
        for annotate in self.ctx.annotators:
            view = annotate(s, row, view, now)
        return view

    def views_of(self, s: Session, rows: list[RolloutRow], now: datetime) -> list[RolloutView]:
        """The views of many rows read in `s`: what the annotators need is read for all of
        them at once first (`RolloutContext.preloads`)."""
        if len(rows) > 1:
            for preload in self.ctx.preloads:
                preload(s, rows)
        return [self.view_of(s, r, now) for r in rows]

    def known_hint(self, s: Session) -> Message:
        """A hint naming the flags that have rollouts (for "no rollout for …" refusals)."""
        keys = sorted({r.flag_key for r in rollouts.recent(s, 50)})
        if not keys:
            return Message(
                "No rollouts yet: start one with ", Code("/rollout start <flag> [plan]"), "."
            )
        return Message("Rollouts exist for: ", Message.join(", ", (Code(k) for k in keys)), ".")
