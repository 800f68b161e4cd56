"""What every incident use case shares: dependencies, lookups, timeline writes, the card.

The use cases live in sibling modules (declare, status updates, resolve, due work,
outside sources) as mixins of `IncidentCore`; `bot.services.incidents.service.IncidentService`
puts them together. Chat calls never undo a change: a failing chat is logged and the
card is brought up to date by the next change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from sqlmodel import Session

from bot.clock import Clock
from bot.config.incidents import IncidentsConfig
from bot.config.settings import REPO_ROOT
from bot.domain.errors import NotFound, RollbotError
from bot.domain.incident import Deadlines, EventKind
from bot.domain.roles import RoleDirectory
from bot.services.incidents.ports import Pager, StatusPageProvider
from bot.services.incidents.views import (
    IncidentChat,
    IncidentView,
    NullIncidentChat,
    build_incident_view,
)
from bot.store import incidents as store
from bot.store.database import Database
from bot.store.incident_models import IncidentRow

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TEMPLATES = REPO_ROOT / "templates"


@dataclass(frozen=True)
class IncidentOutcome:
    """What a change did: the incident as it is now, and a sentence about it."""

    view: IncidentView
    text: str


def template_path(config_dir: Path, configured: str | None, default_name: str) -> Path:
    """A team's own template (relative to the config file) or the shipped one."""
    if configured:
        path = Path(configured)
        return path if path.is_absolute() else (config_dir / path).resolve()
    return DEFAULT_TEMPLATES / default_name


class IncidentCore:
    """Dependencies and helpers of the incident use cases."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: IncidentsConfig,
        roles: RoleDirectory | None = None,
        config_dir: Path = REPO_ROOT,
        chat: IncidentChat | None = None,
        pager: Pager | None = None,
        status_pages: list[StatusPageProvider] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.deadlines: Deadlines = config.deadlines()
        self.roles = roles or RoleDirectory()
        self.chat: IncidentChat = chat or NullIncidentChat()
        self.pager = pager
        # The same list the container holds, so providers wired later are seen here.
        self.status_pages: list[StatusPageProvider] = (
            status_pages if status_pages is not None else []
        )
        self.status_template = template_path(
            config_dir, config.status_template, "status_update.md.j2"
        )
        self.postmortem_template = template_path(
            config_dir, config.postmortem_template, "postmortem.md.j2"
        )

    # -- reading -------------------------------------------------------------------------

    def view(self, incident_id: int) -> IncidentView:
        """One incident as its card shows it."""
        with self.db.session() as s:
            row = store.by_id(s, incident_id)
            if row is None:
                raise NotFound(f"Incident {incident_id} does not exist.")
            return self._build(s, row)

    def _build(self, s: Session, row: IncidentRow) -> IncidentView:
        assert row.id is not None
        return build_incident_view(
            row, store.postmortem(s, row.id), self.deadlines, self.clock.now()
        )

    def in_channel(self, s: Session, channel_id: str | None, command: str) -> IncidentRow:
        """The incident of this channel; a RollbotError saying where to run it otherwise."""
        row = store.by_channel(s, channel_id) if channel_id else None
        if row is None:
            active = [r for r in store.listing(s, 0) if r.state == store.ACTIVE]
            where = ", ".join(f"#{r.channel_name}" for r in active if r.channel_name)
            raise RollbotError(
                f"`/incident {command}` works in an incident's own channel, and this is not one.",
                f"Run it in the incident channel ({where})."
                if where
                else "No incident is open; declare one with `/incident declare <sev> <title>`.",
            )
        return row

    # -- writing -------------------------------------------------------------------------

    def record(
        self,
        incident_id: int,
        kind: EventKind,
        text: str,
        actor: str = "rollbot",
        permalink: str | None = None,
        dedupe: str | None = None,
        session: Session | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Add a timeline entry (in `session` when given); False when it is a duplicate."""
        now = at or self.clock.now()
        if session is not None:
            return store.add_event(session, incident_id, now, kind, text, actor, permalink, dedupe)
        with self.db.session() as s:
            return store.add_event(s, incident_id, now, kind, text, actor, permalink, dedupe)

    # -- telling people --------------------------------------------------------------------

    def safely(self, what: str, call: Callable[[], T]) -> T | None:
        """Run a chat or pager call; log a failure instead of undoing anything."""
        try:
            return call()
        except Exception as exc:
            log.warning("incident: could not %s: %s", what, exc)
            return None

    def refresh(self, incident_id: int) -> IncidentView:
        """Post or edit the incident's card; remember where it is the first time."""
        view = self.view(incident_id)
        location = self.safely("show the incident card", lambda: self.chat.show_card(view))
        if location is not None and view.card_ts is None:
            with self.db.session() as s:
                row = store.by_id(s, incident_id, for_update=True)
                if row is not None:
                    row.card_ts = location.message_ts
                    row.channel_id = row.channel_id or location.channel_id
                    s.add(row)
            view = self.view(incident_id)
        return view

    def tell(self, view: IncidentView, text: str) -> None:
        """Post in the incident channel."""
        if view.channel_id:
            self.safely(
                "post in the incident channel", lambda: self.chat.post(view.channel_id, text)
            )

    def tell_commander(self, view: IncidentView, text: str) -> None:
        """DM the commander (when the incident has one)."""
        commander = view.commander
        if commander:
            self.safely("message the commander", lambda: self.chat.direct(commander, text))
