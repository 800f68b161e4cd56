"""The words of a rollout's thread (a rollout started, advanced, paused, resumed or set) and
of its card's waiting line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.domain.durations import format_duration
from bot.domain.message import Code, Message, Strong
from bot.domain.rollout import RolloutState
from bot.services.events import Event
from bot.services.rollouts.events import RolloutChanged, RolloutStarted, RolloutWait


def started(e: RolloutStarted) -> Message:
    """A new rollout's first words in its thread."""
    return Message(
        e.actor.named,
        " started the rollout of ",
        Code(e.flag_key),
        " with plan ",
        Strong(e.plan_title),
        f": {e.phase}, {e.step} ({e.percentage}%).",
    )


def changed(e: RolloutChanged) -> Message:
    """A change's sentence in the rollout's thread."""
    who = e.actor.named
    if e.action == "rollout.advanced":
        how = Message("bake time passed, advanced") if e.by_bake_time else Message(who, " advanced")
        shown = ", ".join(f"{name} {pct}%" for name, pct in e.segments.items())
        text = Message(
            how,
            f" from {e.before_percentage}% to {e.after_percentage}%"
            + (f" (segments: {shown})" if e.segments else "")
            + f": {e.phase}, {e.step}.",
        )
        return text + " The rollout is complete." if e.completed else text
    if e.action == "rollout.paused":
        return Message(who, f" paused the rollout at {e.after_percentage}%.")
    if e.action == "rollout.resumed":
        return Message(who, f" resumed the rollout at {e.after_percentage}%.")
    if e.action == "rollout.percentage_set":
        return Message(
            who, f" set the percentage from {e.before_percentage}% to {e.after_percentage}%."
        )
    return Message(who, f": {e.action}")


def waiting(e: RolloutWait) -> Message:
    """What the rollout waits for, on its card."""
    if e.state is RolloutState.COMPLETED:
        return Message("Complete: the feature is fully on.")
    if e.state is RolloutState.ROLLED_BACK:
        return Message("Rolled back.")
    if e.state is RolloutState.PAUSED:
        rest = f" ({format_duration(e.left)} of bake time left)" if e.left else ""
        return Message(f"Paused{rest}. Resume to continue.")
    if not e.timed:
        return Message("Waiting for someone to advance it.")
    if e.left:
        how = "advances by itself" if e.auto_advance else "ready to advance by hand"
        return Message(f"Baking: {how} in {format_duration(e.left)}.")
    if e.auto_advance:
        return Message("Bake time passed: advancing now.")
    return Message("Bake time passed: waiting for someone to advance it.")


WORDS: dict[type[Event], Callable[[Any], Message]] = {
    RolloutStarted: started,
    RolloutChanged: changed,
    RolloutWait: waiting,
}
