"""Rollout changes as text: the sentence posted to a rollout's thread, and the audit shape.

Pure functions of the plan and the snapshots before and after a change, kept apart from the
service so the wording can be read (and changed) in one place.
"""

from __future__ import annotations

from typing import Any

from bot.domain import rollout as machine
from bot.domain.actor import SCHEDULER, Actor
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


def describe(
    action: str, plan: Plan, before: RolloutSnapshot, after: RolloutSnapshot, actor: Actor
) -> str:
    """The sentence a change posts to the rollout's thread."""
    who = actor.mention
    if action == "rollout.advanced":
        step = plan.step(after.step_index)
        how = "bake time passed, advanced" if actor is SCHEDULER else f"{who} advanced"
        text = (
            f"{how} from {before.percentage}% to {after.percentage}%: "
            f"{step.phase.name}, {step.step.name}."
        )
        if after.state is machine.RolloutState.COMPLETED:
            text += " The rollout is complete."
        return text
    if action == "rollout.paused":
        return f"{who} paused the rollout at {after.percentage}%."
    if action == "rollout.resumed":
        return f"{who} resumed the rollout at {after.percentage}%."
    if action == "rollout.percentage_set":
        return f"{who} set the percentage from {before.percentage}% to {after.percentage}%."
    return f"{who}: {action}"
