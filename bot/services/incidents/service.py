"""The incident service: the one door through which chat adapters, the scheduler, webhooks
and automatic rollbacks reach incidents.

It builds one `IncidentContext` and the collaborators that share it — the card and
timeline, status updates, due work, declaring, the response while open, resolution and
post-mortem, outside sources — and each of its calls is the method of the one that owns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.clock import Clock
from bot.config.incidents import IncidentsConfig
from bot.config.shipped import shipped
from bot.domain.contacts import ContactBook
from bot.domain.roles import RoleDirectory
from bot.services.incidents.card import IncidentCard
from bot.services.incidents.contacts import Contacts
from bot.services.incidents.context import IncidentContext
from bot.services.incidents.declare import Declaring
from bot.services.incidents.due_work import DueWork
from bot.services.incidents.ports import Pager, StatusPageProvider
from bot.services.incidents.resolve import Resolution
from bot.services.incidents.response import Response
from bot.services.incidents.sources import OutsideSources
from bot.services.incidents.status_updates import StatusUpdates
from bot.services.incidents.views import (
    IncidentChat,
    NullIncidentChat,
)
from bot.services.telemetry import Telemetry
from bot.store.database import Database


class IncidentService:
    """Incidents, from every door."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: IncidentsConfig,
        directory: RoleDirectory | None = None,
        *,
        config_dir: Path | None = None,
        pager: Pager | None = None,
        status_pages: Sequence[StatusPageProvider] | None = None,
        chat: IncidentChat | None = None,
        contacts: ContactBook | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.context = IncidentContext.build(
            db,
            clock,
            config,
            directory,
            # Templates a config names are relative to it; without one, to the shipped one.
            config_dir or shipped("config"),
            chat or NullIncidentChat(),
            pager,
            status_pages,
            contacts,
            telemetry,
        )
        ctx = self.context
        # The clock incidents take the time from, and the chat their channels live in.
        self.clock = ctx.clock
        self.chat = ctx.chat
        self.card = IncidentCard(ctx)
        self.status_updates = StatusUpdates(ctx, self.card)
        self.due_work = DueWork(ctx, self.card, self.status_updates)
        self.declaring = Declaring(ctx, self.card, self.status_updates, self.due_work)
        self.contacts = Contacts(ctx)
        self.response = Response(ctx, self.card, self.status_updates, self.due_work, self.contacts)
        self.resolution = Resolution(ctx, self.card, self.status_updates, self.due_work)
        self.sources = OutsideSources(ctx, self.card, self.declaring, self.response)
        # The door's calls are the collaborators' own methods (their signatures and docs).
        # Reading: one incident, the list, this channel's incident and its timeline.
        self.view = self.card.view
        self.incidents = self.card.incidents
        self.in_channel_view = self.card.in_channel_view
        self.timeline_of = self.card.timeline_of
        # Declaring.
        self.declare = self.declaring.declare
        # Status updates: the draft's DM, publishing it (by button or command), editing it.
        self.draft = self.status_updates.draft
        self.publish_draft = self.status_updates.publish_draft
        self.publish_pending = self.status_updates.publish_pending
        self.edit_draft = self.status_updates.edit_draft
        # While it is open: acknowledge, note, pin, page someone, change the status.
        self.acknowledge = self.response.acknowledge
        self.note = self.response.note
        self.pinned = self.response.pinned
        self.escalate = self.response.escalate
        # `/oncall`: every emergency contact, with who PagerDuty has on call now.
        self.on_call = self.contacts.now
        self.change_status = self.response.change_status
        # Resolution and the post-mortem.
        self.resolve = self.resolution.resolve
        self.resolve_in = self.resolution.resolve_in
        self.postmortem = self.resolution.postmortem
        self.render_postmortem_of = self.resolution.render_postmortem_of
        self.write_postmortem = self.resolution.write_postmortem
        # Due work: the scheduler's tick, and one claimed job.
        self.run_due = self.due_work.run_due
        self.run_job = self.due_work.run_job
        # Outside sources: automatic rollbacks, PagerDuty (its webhook calls
        # `on_pagerduty_event`) and Alertmanager.
        self.declare_for_rollback = self.sources.declare_for_rollback
        self.rollback_step = self.sources.rollback_step
        self.declare_from_pagerduty = self.sources.declare_from_pagerduty
        self.on_pagerduty_event = self.sources.on_pagerduty_event
        self.pagerduty_event = self.sources.pagerduty_event
        self.alert = self.sources.alert
