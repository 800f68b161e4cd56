"""Flags as applications and the flag API see them: read, change, evaluate for a user.

One door to the configured flag provider (builtin, http or unleash) for the web adapter;
rollouts change flags inside their own transactions through the provider itself. With the
builtin provider, evaluations are answered from the in-memory flag state
(`FlagSnapshot`), never from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from bot.clock import Clock
from bot.domain.actor import Actor
from bot.domain.constraints import Context, Segment
from bot.domain.errors import InvalidTransition, RollbotError
from bot.domain.evaluation import FlagResult, evaluate_flag
from bot.domain.flag import FlagChange, FlagDocument
from bot.providers.flags.base import FlagProvider
from bot.providers.flags.builtin import BuiltinFlagProvider
from bot.services.flags.snapshot import FlagSnapshot

log = logging.getLogger(__name__)


class UnknownSegmentError(ValueError):
    """A change names a segment the config does not define."""


class FlagService:
    """Reads, changes and evaluates flags; a failing flag system raises `FlagSystemError`."""

    def __init__(
        self,
        provider: FlagProvider,
        clock: Clock,
        segments: Mapping[str, Segment],
        snapshot: FlagSnapshot | None = None,
        rollout_of: Callable[[str], bool] = lambda _key: False,
    ) -> None:
        self.provider = provider
        self.clock = clock
        self.segments = dict(segments)
        # True while the flag has a running or paused rollout (which must not lose its flag).
        self.rollout_of = rollout_of
        # Only the builtin store's flags are in rollbot's database to be held in memory.
        self.snapshot = snapshot if provider.name == "builtin" else None

    def get(self, key: str) -> FlagDocument | None:
        """The flag's document as stored now, or None when it does not exist (the flag
        API's read: whoever just wrote, on any replica, reads what they wrote)."""
        return self.provider.get(key)

    def held(self, key: str) -> FlagDocument | None:
        """The flag's document from the flags in memory (the provider's, for remote ones)."""
        if self.snapshot is not None:
            return self.snapshot.get().docs.get(key)
        return self.provider.get(key)

    def monitored(self, key: str) -> bool:
        """Whether the flag's metrics are watched (`monitoring_enabled`; a flag that cannot
        be read is watched, the safe side)."""
        try:
            doc = self.held(key)
        except Exception:
            return True
        return doc is None or doc.monitoring_enabled

    def check_segments(self, change: FlagChange) -> None:
        """Raise UnknownSegmentError when `segment_rollouts` names a segment not in config."""
        unknown = sorted(set(change.segment_rollouts or {}) - set(self.segments))
        if unknown:
            known = ", ".join(sorted(self.segments)) or "none defined (flags.segments)"
            raise UnknownSegmentError(
                f"segment_rollouts: unknown segment {', '.join(map(repr, unknown))} "
                f"(segments: {known})"
            )

    def apply(self, key: str, change: FlagChange, actor: Actor) -> FlagDocument:
        """Apply a partial change, creating the flag if needed; the flags in memory are
        reloaded at once."""
        self.check_segments(change)
        doc = self.provider.apply(key, change, actor)
        self.changed()
        return doc

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
        removed = self.provider.remove(key, actor)
        self.changed()
        return removed

    def changed(self) -> None:
        """A flag changed in this process: reload the flags in memory now (if the database
        does not answer, the background poll reloads them once it does)."""
        if self.snapshot is None:
            return
        try:
            self.snapshot.reload()
        except Exception as exc:
            log.warning("flag state: reload after a change failed (%s)", type(exc).__name__)

    def result(self, doc: FlagDocument, key: str, context: Context) -> FlagResult:
        """The evaluation of one document (in memory, no I/O)."""
        return evaluate_flag(doc, key, context, self.segments, self.clock.now())

    def evaluate(
        self,
        key: str,
        user_id: str,
        segments: list[str],
        fields: Mapping[str, str] | None = None,
    ) -> FlagResult | None:
        """Whether the user sees the flag, which variant, and why (None when the flag does
        not exist); `fields` are the other context fields segments' constraints look at."""
        doc = self.held(key)
        if doc is None:
            return None
        return self.result(doc, key, Context(user_id, dict(fields or {}), tuple(segments)))
