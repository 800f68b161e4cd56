"""The words of a rollout's thread: a rollout started, advanced, paused, resumed or set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.domain.message import Code, Message, Strong
from bot.services.rollouts.events import RolloutChanged, RolloutStarted


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


WORDS: dict[type[Any], Callable[[Any], Message]] = {
    RolloutStarted: started,
    RolloutChanged: changed,
}
