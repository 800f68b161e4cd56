"""The interface every flag provider implements."""

from __future__ import annotations

from typing import Protocol

from sqlmodel import Session

from bot.domain.actor import Actor
from bot.domain.errors import RollbotError
from bot.domain.flag import FlagChange, FlagDocument


class FlagProviderError(RollbotError):
    """The flag system refused or could not be reached; the change did not happen.

    A RollbotError, so adapters show its message and hint, and a rollout change that set the
    flag inside its transaction rolls back with it.
    """


class FlagProvider(Protocol):
    """Reads and changes feature flags in some flag system."""

    name: str

    def get(self, key: str) -> FlagDocument | None:
        """The flag's document, or None when the flag does not exist."""
        ...

    def apply(
        self, key: str, change: FlagChange, actor: Actor, session: Session | None = None
    ) -> FlagDocument:
        """Apply a partial change (creating the flag if needed); return the new document.

        `session` is the caller's open transaction: a provider that keeps flags in rollbot's
        database writes in it, so the flag and the rollout change commit or fail together.
        Remote providers ignore it; if they raise, the caller's transaction rolls back.
        """
        ...
