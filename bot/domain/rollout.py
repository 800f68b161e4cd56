"""The rollout state machine.

A rollout walks a plan's steps in order. Each transition is a pure function from the
current state, the plan and `now` to the next state; it refuses (raises) rather than
half-applies. Persistence, locking and notification live in the services.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.errors import InvalidTransition, RollbotError
from bot.domain.message import Code, Message
from bot.domain.plan import Plan, PlannedStep


class RolloutState(StrEnum):
    """Where a rollout stands."""

    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"


ACTIVE_STATES = frozenset({RolloutState.RUNNING, RolloutState.PAUSED})


@dataclass(frozen=True)
class RolloutSnapshot:
    """The parts of a rollout the rules look at and change."""

    state: RolloutState
    step_index: int
    percentage: int
    step_started_at: datetime
    step_due_at: datetime | None
    paused_remaining_s: int | None = None

    def is_active(self) -> bool:
        """True while the rollout can still move (running or paused)."""
        return self.state in ACTIVE_STATES


def _enter_step(plan: Plan, index: int, percentage: int, now: datetime) -> RolloutSnapshot:
    planned = plan.step(index)
    bake = planned.step.bake_time
    state = RolloutState.COMPLETED if index == plan.last_index else RolloutState.RUNNING
    return RolloutSnapshot(
        state=state,
        step_index=index,
        # Advancing never lowers the percentage (a `set` may have gone past the plan).
        percentage=max(planned.step.percentage, percentage),
        step_started_at=now,
        step_due_at=(now + bake) if bake and state is RolloutState.RUNNING else None,
    )


def start(plan: Plan, now: datetime) -> RolloutSnapshot:
    """A new rollout at the plan's first step."""
    return _enter_step(plan, 0, 0, now)


# What the hints name when the caller does not say which flag (the word users would type).
ANY_FLAG = "<flag>"


def _require_active(snap: RolloutSnapshot, verb: str, flag: str) -> None:
    if snap.state is RolloutState.COMPLETED:
        raise InvalidTransition(
            f"Cannot {verb}: this rollout is already complete.",
            Message(
                "Start a new rollout with ", Code(f"/rollout start {flag}"), " if you need one."
            ),
        )
    if snap.state is RolloutState.ROLLED_BACK:
        raise InvalidTransition(
            f"Cannot {verb}: this rollout was rolled back.",
            Message("Start it again with ", Code(f"/rollout start {flag}"), "."),
        )


def advance(
    plan: Plan, snap: RolloutSnapshot, now: datetime, flag: str = ANY_FLAG
) -> RolloutSnapshot:
    """Move to the next step now (a person said so, or the bake time passed); `flag` is
    named in the hints of a refusal."""
    _require_active(snap, "advance", flag)
    if snap.state is RolloutState.PAUSED:
        raise InvalidTransition(
            "Cannot advance: this rollout is paused.",
            Message("Resume it first with ", Code(f"/rollout resume {flag}"), "."),
        )
    return _enter_step(plan, snap.step_index + 1, snap.percentage, now)


def pause(snap: RolloutSnapshot, now: datetime, flag: str = ANY_FLAG) -> RolloutSnapshot:
    """Hold the rollout; the rest of the bake time is kept for when it resumes."""
    _require_active(snap, "pause", flag)
    if snap.state is RolloutState.PAUSED:
        raise InvalidTransition(
            "This rollout is already paused.",
            Message("Resume it with ", Code(f"/rollout resume {flag}"), "."),
        )
    remaining = None
    if snap.step_due_at is not None:
        remaining = max(0, int((snap.step_due_at - now).total_seconds()))
    return replace(snap, state=RolloutState.PAUSED, step_due_at=None, paused_remaining_s=remaining)


def resume(snap: RolloutSnapshot, now: datetime, flag: str = ANY_FLAG) -> RolloutSnapshot:
    """Continue a paused rollout; the bake clock picks up where it stopped."""
    _require_active(snap, "resume", flag)
    if snap.state is not RolloutState.PAUSED:
        raise InvalidTransition(
            "This rollout is not paused.",
            Message("Pause it with ", Code(f"/rollout pause {flag}"), "."),
        )
    due = None
    if snap.paused_remaining_s is not None:
        due = now + timedelta(seconds=snap.paused_remaining_s)
    return replace(snap, state=RolloutState.RUNNING, step_due_at=due, paused_remaining_s=None)


def set_percentage(
    snap: RolloutSnapshot, percentage: int, force: bool, flag: str = ANY_FLAG
) -> RolloutSnapshot:
    """Set the flag's percentage by hand without moving to another step."""
    _require_active(snap, "set the percentage", flag)
    if not 0 <= percentage <= 100:
        raise RollbotError(
            f"{percentage}% is not a percentage.", "Give a whole number from 0 to 100."
        )
    if percentage < snap.percentage and not force:
        raise InvalidTransition(
            f"{percentage}% is below the current {snap.percentage}%: lowering it turns the "
            "feature off for users who have it.",
            Message(
                "Add --force to do it anyway (",
                Code(f"/rollout set {flag} {percentage} --force"),
                "), or roll back.",
            ),
        )
    return replace(snap, percentage=percentage)


def is_due(plan: Plan, snap: RolloutSnapshot, now: datetime) -> bool:
    """True when the current step's bake time has passed and it advances by itself."""
    if snap.state is not RolloutState.RUNNING or snap.step_due_at is None:
        return False
    if snap.step_index >= plan.last_index:
        return False
    return plan.step(snap.step_index).step.auto_advance and snap.step_due_at <= now


def next_step(plan: Plan, snap: RolloutSnapshot) -> PlannedStep | None:
    """The step an advance would move to, if any."""
    if not snap.is_active() or snap.step_index >= plan.last_index:
        return None
    return plan.step(snap.step_index + 1)


def flag_fields(snap: RolloutSnapshot, plan: Plan | None = None) -> dict[str, object]:
    """What the flag document must say for this rollout state.

    A plan whose steps give segments percentages also sets `segment_rollouts`: those in
    force at the current step while the rollout runs, is paused or completed, none after a
    rollback. A segment at more than 0% turns the flag on even at 0% for everyone else
    (the seed's Phase 2: staff at 100% before 5% of everyone).
    """
    fields: dict[str, object] = {
        "enabled": snap.percentage > 0,
        "rollout_percentage": snap.percentage,
    }
    if plan is not None and plan.segment_names():
        live = snap.state is not RolloutState.ROLLED_BACK
        segments = plan.segments_at(snap.step_index) if live else {}
        fields["segment_rollouts"] = segments
        fields["enabled"] = snap.percentage > 0 or any(p > 0 for p in segments.values())
    return fields
