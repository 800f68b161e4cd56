"""The incident as people follow it: its card (read and kept up to date), its timeline
entries, and the messages in its channel and to its commander."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from bot.domain.errors import NotFound, RollbotError
from bot.domain.incident import EventKind, TimelineEvent
from bot.domain.message import Code, Message
from bot.services.events import Said
from bot.services.incidents.contacts import contact_lines
from bot.services.incidents.context import IncidentContext
from bot.services.incidents.views import IncidentView, build_incident_view
from bot.store import incidents as store
from bot.store.incident_models import IncidentRow


class IncidentCard:
    """Reading incidents, writing their timeline, showing their card, telling people."""

    def __init__(self, ctx: IncidentContext) -> None:
        self.ctx = ctx

    # -- reading -------------------------------------------------------------------------

    def view(self, incident_id: int) -> IncidentView:
        """One incident as its card shows it."""
        with self.ctx.db.read() as s:
            row = store.by_id(s, incident_id)
            if row is None:
                raise NotFound(f"Incident {incident_id} does not exist.")
            return self.build(s, row)

    def build(self, s: Session, row: IncidentRow) -> IncidentView:
        """The view of a row read in `s`."""
        assert row.id is not None
        view = build_incident_view(
            row, store.postmortem(s, row.id), self.ctx.deadlines, self.ctx.clock.now()
        )
        return replace(view, contacts=contact_lines(self.ctx))

    def in_channel(self, s: Session, channel_id: str | None, command: str) -> IncidentRow:
        """The incident of this channel; a RollbotError saying where to run it otherwise."""
        row = store.by_channel(s, channel_id) if channel_id else None
        if row is None:
            active = [r for r in store.listing(s, 0) if r.state == store.ACTIVE]
            where = ", ".join(f"#{r.channel_name}" for r in active if r.channel_name)
            raise RollbotError(
                Message(
                    Code(f"/incident {command}"),
                    " works in an incident's own channel, and this is not one.",
                ),
                f"Run it in the incident channel ({where})."
                if where
                else Message(
                    "No incident is open; declare one with ",
                    Code("/incident declare <sev> <title>"),
                    ".",
                ),
            )
        return row

    def incidents(self) -> list[IncidentView]:
        """Open incidents, then recent resolved ones."""
        with self.ctx.db.read() as s:
            return [self.build(s, r) for r in store.listing(s)]

    def in_channel_view(self, channel_id: str | None, command: str) -> IncidentView:
        """The view of this channel's incident (RollbotError outside one)."""
        with self.ctx.db.read() as s:
            return self.build(s, self.in_channel(s, channel_id, command))

    def timeline_of(self, channel_id: str | None) -> tuple[IncidentView, list[TimelineEvent]]:
        """This channel's incident and its timeline."""
        with self.ctx.db.read() as s:
            row = self.in_channel(s, channel_id, "timeline")
            assert row.id is not None
            return self.build(s, row), store.timeline(s, row.id)

    # -- writing -------------------------------------------------------------------------

    def record(
        self,
        incident_id: int,
        kind: EventKind,
        text: str | Message,
        actor: str = "rollbot",
        permalink: str | None = None,
        dedupe: str | None = None,
        session: Session | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Add a timeline entry (in `session` when given); False when it is a duplicate."""
        now = at or self.ctx.clock.now()
        if session is not None:
            return store.add_event(session, incident_id, now, kind, text, actor, permalink, dedupe)
        with self.ctx.db.session() as s:
            return store.add_event(s, incident_id, now, kind, text, actor, permalink, dedupe)

    # -- telling people ------------------------------------------------------------------

    def refresh(self, incident_id: int) -> IncidentView:
        """Post or edit the incident's card; remember where it is the first time."""
        view = self.view(incident_id)
        location = self.ctx.safely("show the incident card", lambda: self.ctx.chat.show_card(view))
        if location is not None and view.card_ts is None:
            with self.ctx.db.session() as s:
                row = store.by_id(s, incident_id, for_update=True)
                if row is not None:
                    row.card_ts = location.message_ts
                    row.channel_id = row.channel_id or location.channel_id
                    store.save(s, row)
            view = self.view(incident_id)
        return view

    def tell(self, view: IncidentView, text: Said) -> None:
        """Post in the incident channel."""
        channel = view.channel_id
        if channel:
            self.ctx.safely(
                "post in the incident channel", lambda: self.ctx.chat.post(channel, text)
            )

    def tell_commander(self, view: IncidentView, text: Said) -> None:
        """DM the commander (when the incident has one)."""
        commander = view.commander
        if commander:
            self.ctx.safely("message the commander", lambda: self.ctx.chat.direct(commander, text))
