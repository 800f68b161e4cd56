"""Rollout changes in words: the sentence posted to a rollout's thread, and the audit shape.

Pure functions of the plan and the snapshots before and after a change, kept apart from the
service so the wording can be read (and changed) in one place. Sentences are `Message`s:
each chat writes the mentions and emphasis its own way.
"""

from __future__ import annotations

from typing import Any

from bot.domain import rollout as machine
from bot.domain.actor import SCHEDULER, Actor
from bot.domain.message import Code, Message, Strong
from bot.domain.plan import Plan
from bot.domain.rollout import RolloutSnapshot


def snapshot_dict(snap: RolloutSnapshot) -> dict[str, Any]:
    """A snapshot as the audit log records it (before / after of a change)."""
    return {
        "state": snap.state.value,
        "step": snap.step_index,
        "percentage": snap.percentage,
        "due_at": snap.step_due_at.isoformat() if snap.step_due_at else None,
    }


def started(flag_key: str, plan: Plan, snap: RolloutSnapshot, actor: Actor) -> Message:
    """The sentence a new rollout posts to its thread."""
    step = plan.step(0)
    return Message(
        actor.named,
        " started the rollout of ",
        Code(flag_key),
        " with plan ",
        Strong(plan.title),
        f": {step.phase.name}, {step.step.name} ({snap.percentage}%).",
    )


def describe(
    action: str, plan: Plan, before: RolloutSnapshot, after: RolloutSnapshot, actor: Actor
) -> Message:
    """The sentence a change posts to the rollout's thread."""
    who = actor.named
    if action == "rollout.advanced":
        step = plan.step(after.step_index)
        how = (
            Message("bake time passed, advanced")
            if actor is SCHEDULER
            else Message(who, " advanced")
        )
        # A step that changes segments' percentages says so: the staff step moves everyone
        # "from 0% to 0%", which alone would read as nothing happening.
        segments = plan.segments_at(after.step_index)
        changed = segments != plan.segments_at(before.step_index) and segments
        shown = ", ".join(f"{name} {pct}%" for name, pct in sorted(segments.items()))
        text = Message(
            how,
            f" from {before.percentage}% to {after.percentage}%"
            + (f" (segments: {shown})" if changed else "")
            + f": {step.phase.name}, {step.step.name}.",
        )
        if after.state is machine.RolloutState.COMPLETED:
            text += " The rollout is complete."
        return text
    if action == "rollout.paused":
        return Message(who, f" paused the rollout at {after.percentage}%.")
    if action == "rollout.resumed":
        return Message(who, f" resumed the rollout at {after.percentage}%.")
    if action == "rollout.percentage_set":
        return Message(
            who, f" set the percentage from {before.percentage}% to {after.percentage}%."
        )
    return Message(who, f": {action}")
