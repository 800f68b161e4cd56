"""The interface every flag provider implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from bot.domain.actor import Actor
from bot.domain.errors import FlagSystemError
from bot.domain.flag import FlagChange, FlagDocument
from bot.store.database import Transaction

# Providers raise the domain's error, so adapters can answer it without importing providers.
FlagProviderError = FlagSystemError


class FlagProvider(Protocol):
    """Reads and changes feature flags in some flag system."""

    name: str

    def get(self, key: str) -> FlagDocument | None:
        """The flag's document, or None when the flag does not exist."""
        ...

    def apply(
        self, key: str, change: FlagChange, actor: Actor, within: Transaction | None = None
    ) -> FlagDocument:
        """Apply a partial change (creating the flag if needed); return the new document.

        `within` is the caller's open transaction: a provider that keeps flags in rollbot's
        database writes in it, so the flag and the rollout change commit or fail together.
        Remote providers ignore it; if they raise, the caller's transaction rolls back.
        """
        ...


@runtime_checkable
class BatchFlagProvider(Protocol):
    """A provider that keeps flags in rollbot's database and can change many in the caller's
    transaction at once (the built-in store). Remote providers are not: each change is a
    call that cannot be rolled back with the others."""

    def apply_many(
        self, changes: Sequence[tuple[str, FlagChange]], actor: Actor, within: Transaction
    ) -> list[FlagDocument]:
        """Apply every change in `within`, each audited; return the new documents in order."""
        ...


@runtime_checkable
class SegmentCheckingProvider(Protocol):
    """A provider whose flag system may not hold segment percentages (`segment_rollouts`),
    or may not know a segment: rollbot asks it before a rollout whose plan gives segments
    percentages starts, so the plan is refused at `/rollout start`, not at its segment step
    days later. The built-in store and Unleash always hold them, and do not implement it."""

    def check_segments(
        self, key: str, segments: set[str], actor: Actor, within: Transaction | None = None
    ) -> None:
        """Raise FlagProviderError, naming the segments, when the flag system cannot hold a
        percentage for each of `segments` on flag `key`; change nothing a user can see."""
        ...
