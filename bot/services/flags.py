"""Flags as applications and the flag API see them: read, change, evaluate for a user.

One door to the configured flag provider (builtin, http or unleash) for the web adapter;
rollouts change flags inside their own transactions through the provider itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.actor import Actor
from bot.domain.bucketing import evaluate
from bot.domain.flag import FlagChange, FlagDocument
from bot.providers.flags.base import FlagProvider


@dataclass(frozen=True)
class Evaluation:
    """Whether one user sees a flag, and why."""

    flag_key: str
    user_id: str
    enabled: bool
    reason: str


class FlagService:
    """Reads, changes and evaluates flags; a failing flag system raises `FlagSystemError`."""

    def __init__(self, provider: FlagProvider) -> None:
        self.provider = provider

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
