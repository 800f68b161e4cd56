"""Flags as applications and the flag API see them: read, change, evaluate for a user.

One door to the configured flag provider (builtin, http or unleash) for the web adapter;
rollouts change flags inside their own transactions through the provider itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.domain.actor import Actor
from bot.domain.bucketing import evaluate
from bot.domain.errors import InvalidTransition, RollbotError
from bot.domain.flag import FlagChange, FlagDocument
from bot.providers.flags.base import FlagProvider
from bot.providers.flags.builtin import BuiltinFlagProvider


@dataclass(frozen=True)
class Evaluation:
    """Whether one user sees a flag, and why."""

    flag_key: str
    user_id: str
    enabled: bool
    reason: str


class FlagService:
    """Reads, changes and evaluates flags; a failing flag system raises `FlagSystemError`."""

    def __init__(
        self, provider: FlagProvider, rollout_of: Callable[[str], bool] = lambda _key: False
    ) -> None:
        self.provider = provider
        # True while the flag has a running or paused rollout (which must not lose its flag).
        self.rollout_of = rollout_of

    def remove(self, key: str, actor: Actor) -> bool:
        """Remove a flag from the built-in store (a remote flag system removes its own);
        False when it did not exist. Refused while a rollout of it is running or paused."""
        if not isinstance(self.provider, BuiltinFlagProvider):
            raise RollbotError(
                f"flags of the {self.provider.name} flag system are removed there, not here",
                "remove the flag in that system; rollbot checks that it is gone",
            )
        if self.rollout_of(key):
            raise InvalidTransition(
                f"a rollout of {key!r} is running or paused",
                "finish it (or roll it back) before removing the flag",
            )
        return self.provider.remove(key, actor)

    def get(self, key: str) -> FlagDocument | None:
        """The flag's document, or None when it does not exist."""
        return self.provider.get(key)

    def apply(self, key: str, change: FlagChange, actor: Actor) -> FlagDocument:
        """Apply a partial change, creating the flag if needed."""
        return self.provider.apply(key, change, actor)

    def evaluate(self, key: str, user_id: str, segments: list[str]) -> Evaluation | None:
        """Whether the user sees the flag (None when the flag does not exist)."""
        doc = self.provider.get(key)
        if doc is None:
            return None
        enabled, reason = evaluate(doc, key, user_id, segments)
        return Evaluation(key, user_id, enabled, reason)
