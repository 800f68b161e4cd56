"""What a person can do from a card or a message (each chat draws it as a button its own
way: Slack with an action id, the shell with a `press` label)."""

from __future__ import annotations

from enum import Enum, StrEnum


class Action(StrEnum):
    """A button's meaning."""

    ADVANCE = "advance"
    PAUSE = "pause"
    RESUME = "resume"
    APPROVE = "approve"
    REJECT = "reject"
    CHECK = "check"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    PUBLISH = "publish"
    EDIT = "edit"
    RERUN_STEP = "rerun_step"
    SKIP_STEP = "skip_step"
    ABORT_ROLLBACK = "abort_rollback"


class Emphasis(Enum):
    """How much a button stands out among its neighbours; each chat shows it its own way."""

    NONE = "none"
    # The step forward the card expects (advance, approve, acknowledge, publish).
    CONFIRM = "confirm"
    # Ends, undoes or refuses something (reject, resolve, abort).
    DESTRUCTIVE = "destructive"


# A rollback waiting at a step not safe to run twice: each button, the choice it makes.
ROLLBACK_DECISIONS: dict[Action, str] = {
    Action.RERUN_STEP: "rerun",
    Action.SKIP_STEP: "skip",
    Action.ABORT_ROLLBACK: "abort",
}
