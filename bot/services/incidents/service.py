"""The incident service: the one door through which chat adapters, the scheduler, webhooks
and automatic rollbacks reach incidents.

It builds one `IncidentContext` and the collaborators that share it — the card and
timeline, status updates, due work, declaring, the response while open, resolution and
post-mortem, outside sources — and delegates each call to the one that owns it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.clock import Clock
from bot.config.incidents import IncidentsConfig
from bot.config.settings import REPO_ROOT
from bot.domain.actor import SCHEDULER, Actor
from bot.domain.alerts import AlertGroup
from bot.domain.incident import Deadlines, Impact, Severity, Status, TimelineEvent
from bot.domain.message import Message
from bot.domain.roles import RoleDirectory
from bot.services.incidents.card import IncidentCard
from bot.services.incidents.context import IncidentContext
from bot.services.incidents.declare import Declaring
from bot.services.incidents.due_work import DueWork
from bot.services.incidents.ports import Pager, StatusPageProvider
from bot.services.incidents.resolve import Resolution
from bot.services.incidents.response import Response
from bot.services.incidents.sources import AlertResult, OutsideSources
from bot.services.incidents.status_updates import StatusUpdates
from bot.services.incidents.views import (
    DraftView,
    IncidentChat,
    IncidentOutcome,
    IncidentView,
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
        config_dir: Path = REPO_ROOT,
        pager: Pager | None = None,
        status_pages: list[StatusPageProvider] | None = None,
        chat: IncidentChat | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.context = IncidentContext.build(
            db,
            clock,
            config,
            directory,
            config_dir,
            chat or NullIncidentChat(),
            pager,
            status_pages,
            telemetry,
        )
        ctx = self.context
        self.card = IncidentCard(ctx)
        self.status_updates = StatusUpdates(ctx, self.card)
        self.due_work = DueWork(ctx, self.card, self.status_updates)
        self.declaring = Declaring(ctx, self.card, self.status_updates, self.due_work)
        self.response = Response(ctx, self.card, self.status_updates, self.due_work)
        self.resolution = Resolution(ctx, self.card, self.status_updates, self.due_work)
        self.sources = OutsideSources(ctx, self.card, self.declaring, self.response)

    # -- what it is built from ---------------------------------------------------------

    @property
    def db(self) -> Database:
        """rollbot's database."""
        return self.context.db

    @property
    def clock(self) -> Clock:
        """Where incidents take the time from."""
        return self.context.clock

    @property
    def config(self) -> IncidentsConfig:
        """The `incidents:` config section."""
        return self.context.config

    @property
    def deadlines(self) -> Deadlines:
        """The configured deadlines."""
        return self.context.deadlines

    @property
    def status_pages(self) -> list[StatusPageProvider]:
        """The status pages, primary first (the container's list)."""
        return self.context.status_pages

    # Settable until the container passes everything at construction (tests set them too).

    @property
    def chat(self) -> IncidentChat:
        """The chat where incident channels, cards and drafts live."""
        return self.context.chat

    @property
    def pager(self) -> Pager | None:
        """The pager (None: the declarer commands and nobody is paged)."""
        return self.context.pager

    @pager.setter
    def pager(self, pager: Pager | None) -> None:
        self.context.pager = pager

    @property
    def roles(self) -> RoleDirectory:
        """The roles `/incident page` can bring in."""
        return self.context.roles

    @roles.setter
    def roles(self, roles: RoleDirectory) -> None:
        self.context.roles = roles

    @property
    def status_template(self) -> Path:
        """The status update template."""
        return self.context.status_template

    @status_template.setter
    def status_template(self, path: Path) -> None:
        self.context.status_template = path

    @property
    def postmortem_template(self) -> Path:
        """The post-mortem template."""
        return self.context.postmortem_template

    @postmortem_template.setter
    def postmortem_template(self, path: Path) -> None:
        self.context.postmortem_template = path

    # -- reading -----------------------------------------------------------------------

    def view(self, incident_id: int) -> IncidentView:
        """One incident as its card shows it."""
        return self.card.view(incident_id)

    def incidents(self) -> list[IncidentView]:
        """Open incidents, then recent resolved ones."""
        return self.card.incidents()

    def in_channel_view(self, channel_id: str | None, command: str) -> IncidentView:
        """The view of this channel's incident (RollbotError outside one)."""
        return self.card.in_channel_view(channel_id, command)

    def timeline_of(self, channel_id: str | None) -> tuple[IncidentView, list[TimelineEvent]]:
        """This channel's incident and its timeline."""
        return self.card.timeline_of(channel_id)

    # -- declaring ---------------------------------------------------------------------

    def declare(
        self,
        severity: Severity,
        title: str,
        actor: Actor,
        impact: Impact | None = None,
        components: list[str] | None = None,
        source: str = "manual",
        source_ref: str | None = None,
        rollout_id: int | None = None,
        detail: str | None = None,
        page: bool = True,
        origin_channel: str | None = None,
    ) -> IncidentOutcome:
        """Open an incident: record it, its draft and its deadlines, then set up the chat."""
        return self.declaring.declare(
            severity,
            title,
            actor,
            impact=impact,
            components=components,
            source=source,
            source_ref=source_ref,
            rollout_id=rollout_id,
            detail=detail,
            page=page,
            origin_channel=origin_channel,
        )

    # -- status updates ----------------------------------------------------------------

    def draft(self, update_id: int) -> DraftView:
        """A status update as its DM shows it."""
        return self.status_updates.draft(update_id)

    def publish_draft(self, update_id: int, actor: Actor) -> IncidentOutcome:
        """The commander pressed Publish: publish now (retrying if the page fails)."""
        return self.status_updates.publish_draft(update_id, actor)

    def publish_pending(self, channel_id: str | None, actor: Actor) -> IncidentOutcome:
        """`/incident publish`: the channel's pending draft, published now."""
        return self.status_updates.publish_pending(channel_id, actor)

    def edit_draft(self, update_id: int, message: str, actor: Actor) -> DraftView:
        """Replace the text of a draft that is not out yet."""
        return self.status_updates.edit_draft(update_id, message, actor)

    # -- while it is open --------------------------------------------------------------

    def acknowledge(
        self, incident_id: int, actor: Actor, via_pager: bool = False
    ) -> IncidentOutcome:
        """Someone took it: stop the page from escalating."""
        return self.response.acknowledge(incident_id, actor, via_pager)

    def note(self, channel_id: str | None, text: str, actor: Actor) -> IncidentOutcome:
        """Add a note to the timeline."""
        return self.response.note(channel_id, text, actor)

    def pinned(self, channel_id: str, ts: str, actor: Actor) -> bool:
        """A message in an incident channel got a pin reaction: put it on the timeline."""
        return self.response.pinned(channel_id, ts, actor)

    def escalate(self, channel_id: str | None, target: str, actor: Actor) -> IncidentOutcome:
        """`/incident page <role or user>`: bring someone in."""
        return self.response.escalate(channel_id, target, actor)

    def change_status(
        self, channel_id: str | None, status: Status, message: str, actor: Actor
    ) -> IncidentOutcome:
        """`/incident update <status> <message>`: change the status and publish it."""
        return self.response.change_status(channel_id, status, message, actor)

    # -- resolution and post-mortem ----------------------------------------------------

    def resolve(self, incident_id: int, summary: str, actor: Actor) -> IncidentOutcome:
        """Close the incident: page resolved, status page resolved, post-mortem drafted."""
        return self.resolution.resolve(incident_id, summary, actor)

    def resolve_in(self, channel_id: str | None, summary: str, actor: Actor) -> IncidentOutcome:
        """`/incident resolve [summary]` in the incident channel."""
        return self.resolution.resolve_in(channel_id, summary, actor)

    def postmortem(
        self, channel_id: str | None, actor: Actor, done: bool = False
    ) -> IncidentOutcome:
        """`/incident postmortem [done]`: re-render the draft, or mark it finished."""
        return self.resolution.postmortem(channel_id, actor, done)

    def render_postmortem_of(self, incident_id: int) -> str:
        """The post-mortem draft rendered from the current timeline."""
        return self.resolution.render_postmortem_of(incident_id)

    def write_postmortem(self, incident_id: int, actor: Actor) -> str:
        """Render, store and upload the post-mortem draft; return the Markdown."""
        return self.resolution.write_postmortem(incident_id, actor)

    # -- due work ----------------------------------------------------------------------

    def run_due(self) -> int:
        """Do every piece of incident work that is due now; return how many ran."""
        return self.due_work.run_due()

    def run_job(self, job_id: int) -> bool:
        """Claim one job and run it; on failure retry later with backoff."""
        return self.due_work.run_job(job_id)

    # -- outside sources ---------------------------------------------------------------

    def declare_for_rollback(
        self,
        rollout_id: int,
        flag_key: str,
        reason: str,
        severity: Severity = Severity.SEV2,
        actor: Actor = SCHEDULER,
    ) -> IncidentView:
        """An automatic rollback happened: declare (or add to) the rollout's incident."""
        return self.sources.declare_for_rollback(rollout_id, flag_key, reason, severity, actor)

    def rollback_step(self, rollout_id: int, text: str | Message) -> bool:
        """Put a rollback step on the timeline of the rollout's open incident, if any."""
        return self.sources.rollback_step(rollout_id, text)

    def declare_from_pagerduty(
        self,
        pd_incident_id: str,
        title: str,
        urgency: str = "high",
        html_url: str | None = None,
        service: str | None = None,
    ) -> IncidentView:
        """A PagerDuty incident was triggered: declare one here, or add to the open one."""
        return self.sources.declare_from_pagerduty(
            pd_incident_id, title, urgency, html_url, service
        )

    def on_pagerduty_event(
        self,
        event_type: str,
        incident_id: str,
        title: str,
        urgency: str,
        html_url: str,
        occurred_at: datetime,
    ) -> None:
        """What `POST /webhooks/pagerduty` calls (signature already verified)."""
        self.sources.on_pagerduty_event(
            event_type, incident_id, title, urgency, html_url, occurred_at
        )

    def pagerduty_event(self, pd_incident_id: str, event: str, who: str = "pagerduty") -> bool:
        """`incident.acknowledged` or `incident.resolved` from PagerDuty, on the timeline."""
        return self.sources.pagerduty_event(pd_incident_id, event, who)

    def alert(self, group: AlertGroup) -> AlertResult:
        """An Alertmanager notification: firing declares or adds, resolved adds."""
        return self.sources.alert(group)
