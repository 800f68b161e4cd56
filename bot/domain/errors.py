"""Errors a user can fix: each carries what is wrong and what would be right."""

from __future__ import annotations

from bot.domain.message import Message


class RollbotError(Exception):
    """A refusal caused by the user's input or the current state; nothing was changed.

    `message` says what is wrong, `hint` what would be right: plain text, or a `Message`
    when they name people (a role's holders), so each adapter writes the mentions its own
    way. Adapters show both (in Slack as an ephemeral reply); `str()` is plain text, for
    logs.
    """

    def __init__(self, message: str | Message, hint: str | Message = "") -> None:
        super().__init__(str(message))
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class DatabaseUnavailable(RollbotError):
    """The database does not answer (restarting, unreachable): nothing was changed, and
    the same request will work once it is back. The store raises it for lost or refused
    connections, so every door can say so plainly instead of failing."""

    def __init__(self) -> None:
        super().__init__(
            "The database is unavailable right now, so nothing was changed.",
            "Try again in a moment.",
        )


class NotFound(RollbotError):
    """Something named by the user (flag, plan, rollout) does not exist."""


class InvalidTransition(RollbotError):
    """The rollout's current state does not allow the requested change."""


class Conflict(RollbotError):
    """Someone else changed the same thing at the same moment; their change won."""


class FlagSystemError(RollbotError):
    """The flag system refused or could not be reached; the change did not happen.

    A RollbotError, so adapters show its message and hint, and a rollout change that set the
    flag inside its transaction rolls back with it. Flag providers raise it; the web API
    answers it with 502.
    """
