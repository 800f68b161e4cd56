"""What the rollout card says about its flag: the segments' percentages, and whether its
metrics are watched (`monitoring_enabled`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from bot.services.events import Said
from bot.services.flags.events import FlagMonitoringOff, FlagSegmentsNote
from bot.services.rollouts.views import RolloutView
from bot.store import flags
from bot.store.models import RolloutRow


class FlagNotes:
    """An annotator (`RolloutService.annotators`) adding the flag's segments and a warning
    when monitoring is off for it. It reads the builtin store's row in the card's own
    session (a second session would wait on SQLite's write lock that this one holds); flags
    kept in a remote system get no notes."""

    def preload(self, s: Session, rows: Sequence[RolloutRow]) -> None:
        """A `RolloutContext.preloads` entry: the flags of many cards in one query."""
        flags.preload(s, [r.flag_key for r in rows])

    def __call__(
        self, s: Session, row: RolloutRow, view: RolloutView, now: datetime
    ) -> RolloutView:
        """The view with the flag's notes."""
        stored = flags.cached(s, view.flag_key)
        if stored is None:
            return view
        doc = flags.to_document(stored)
        notes: list[str | Said] = []
        if doc.segment_rollouts:
            notes.append(
                FlagSegmentsNote(dict(sorted(doc.segment_rollouts.items())), doc.rollout_percentage)
            )
        if not doc.monitoring_enabled:
            notes.append(FlagMonitoringOff(view.flag_key))
        return replace(view, notes=(*view.notes, *notes)) if notes else view
