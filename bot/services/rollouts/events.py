"""What happens to a rollout, as events for its thread, and what its card says it waits for
(bot/wording/rollouts.py words them)."""

from __future__ import annotations

from dataclasses import field
from datetime import datetime, timedelta

from bot.domain import rollout as machine
from bot.domain.actor import SCHEDULER, Actor
from bot.domain.plan import Plan
from bot.domain.rollout import RolloutSnapshot, RolloutState
from bot.services.events import Event


class RolloutStarted(Event, kind="rollout.started"):
    """A rollout began, at its plan's first step."""

    flag_key: str
    plan_title: str
    phase: str
    step: str
    percentage: int
    actor: Actor


class RolloutChanged(Event, kind="rollout.changed"):
    """A rollout moved: advanced (by someone or by its bake time), paused, resumed, or set to
    a percentage by hand."""

    # The audit action: rollout.advanced, .paused, .resumed or .percentage_set.
    action: str
    actor: Actor
    before_percentage: int
    after_percentage: int
    # The step it is at now.
    phase: str
    step: str
    # The segments' percentages at the new step, when the step changed them (else empty).
    segments: dict[str, int] = field(default_factory=dict)
    # The advance was the last step.
    completed: bool = False

    @property
    def by_bake_time(self) -> bool:
        """The scheduler advanced it because the step's bake time passed."""
        return self.actor == SCHEDULER


def rollout_started(
    flag_key: str, plan: Plan, snap: RolloutSnapshot, actor: Actor
) -> RolloutStarted:
    """The event of a new rollout."""
    step = plan.step(0)
    return RolloutStarted(
        flag_key, plan.title, step.phase.name, step.step.name, snap.percentage, actor
    )


def rollout_changed(
    action: str, plan: Plan, before: RolloutSnapshot, after: RolloutSnapshot, actor: Actor
) -> RolloutChanged:
    """The event of a change from `before` to `after`."""
    step = plan.step(after.step_index)
    segments = plan.segments_at(after.step_index)
    # A step that changes segments' percentages says so: the staff step moves everyone
    # "from 0% to 0%", which alone would read as nothing happening.
    changed = action == "rollout.advanced" and segments != plan.segments_at(before.step_index)
    return RolloutChanged(
        action=action,
        actor=actor,
        before_percentage=before.percentage,
        after_percentage=after.percentage,
        phase=step.phase.name,
        step=step.step.name,
        segments=dict(sorted(segments.items())) if changed else {},
        completed=action == "rollout.advanced" and after.state is machine.RolloutState.COMPLETED,
    )


class RolloutWait(Event, kind="rollout.wait"):
    """What a rollout waits for, on its card: its state, whether its step has a bake time
    running, and how much of it is left."""

    state: RolloutState
    # The step advances by itself once its bake time passes (else someone advances it).
    auto_advance: bool = False
    # A running step with a due time (without one, it waits for someone to advance it).
    timed: bool = False
    # Bake time still to go: until the step is due (running), or kept while paused; None
    # when none is left.
    left: timedelta | None = None


def rollout_wait(plan: Plan, snap: RolloutSnapshot, now: datetime) -> RolloutWait:
    """What the rollout waits for at time `now`."""
    auto_advance = plan.step(snap.step_index).step.auto_advance
    if snap.state is RolloutState.PAUSED:
        kept = snap.paused_remaining_s
        return RolloutWait(snap.state, auto_advance, left=timedelta(seconds=kept) if kept else None)
    due = snap.step_due_at
    if snap.state is not RolloutState.RUNNING or due is None:
        return RolloutWait(snap.state, auto_advance)
    return RolloutWait(snap.state, auto_advance, True, due - now if due > now else None)
