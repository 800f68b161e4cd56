"""The flags held in memory, so evaluating one never reads the database.

Every flag change bumps one version row in its own transaction (bot/store/flags.py); each
replica polls that row (`poll`, every `flags.state_poll_seconds`, from the web server's
background task) and reloads every flag when it moved, so a change made anywhere is served
everywhere within a poll and a load. A change made through this process reloads at once.
ETags are built from the version, so they change exactly when the flags do.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.constraints import Segment
from bot.domain.flag import FlagDocument
from bot.store import flags
from bot.store.database import Database


@dataclass(frozen=True)
class FlagState:
    """Every flag at one version of the flag state."""

    version: int
    docs: Mapping[str, FlagDocument]


def segments_fingerprint(segments: Mapping[str, Segment]) -> str:
    """A short digest of the segment definitions: part of every ETag, so a restart with
    other segments does not answer 304 for answers that changed."""
    text = json.dumps(
        {name: seg.model_dump(mode="json") for name, seg in sorted(segments.items())},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:10]


class FlagSnapshot:
    """The current `FlagState`, reloaded when the database's version moves."""

    def __init__(self, db: Database, poll_seconds: float) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self._state: FlagState | None = None
        self._lock = threading.Lock()

    def current(self) -> FlagState | None:
        """The state in memory (no database read); None before the first load."""
        return self._state

    def get(self) -> FlagState:
        """The state in memory, loading it first if this process has none yet."""
        state = self._state
        return state if state is not None else self.reload()

    def reload(self) -> FlagState:
        """Read the version, then every flag (in that order: flags newer than the version
        read are only reloaded once more at the next poll, never missed)."""
        with self._lock, self.db.read() as session:
            version = flags.state_version(session)
            docs = flags.all_documents(session)
            self._state = FlagState(version, docs)
            return self._state

    def poll(self) -> bool:
        """Reload when another replica (or a runbook) changed a flag; True if reloaded."""
        with self.db.read() as session:
            version = flags.state_version(session)
        state = self._state
        if state is not None and state.version == version:
            return False
        self.reload()
        return True
