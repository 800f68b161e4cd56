"""Resolving an incident and its post-mortem: drafted from the timeline at resolution,
uploaded to the channel, kept in the database, due 48 hours later with reminders."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.domain.actor import Actor
from bot.domain.errors import InvalidTransition
from bot.domain.incident import EventKind, Status
from bot.domain.message import Code, Message, Strong
from bot.services.incidents.card import IncidentCard
from bot.services.incidents.context import IncidentContext
from bot.services.incidents.due_work import NUDGE, PAGE_RESOLVE, PM_OVERDUE, PM_REMINDER, DueWork
from bot.services.incidents.events import IncidentResolved, PostmortemDone, PostmortemRendered
from bot.services.incidents.postmortem import PostmortemFacts, render_postmortem
from bot.services.incidents.status_updates import StatusUpdates
from bot.services.incidents.templates import DEFAULT_POSTMORTEM
from bot.services.incidents.views import IncidentOutcome
from bot.services.people import People
from bot.store import audit
from bot.store import incidents as store
from bot.store.incident_models import IncidentRow

log = logging.getLogger(__name__)


def facts_of(row: IncidentRow) -> PostmortemFacts:
    """The template's view of a stored incident."""
    return PostmortemFacts(
        key=row.key,
        title=row.title,
        severity=row.severity,
        impact=row.impact,
        components=list(row.components),
        commander=row.commander,
        declared_by=row.declared_by,
        declared_at=row.declared_at,
        resolved_at=row.resolved_at,
        summary=row.summary,
        source=row.source,
        source_ref=row.source_ref,
        channel_name=row.channel_name,
        rollout_id=row.rollout_id,
    )


@dataclass(frozen=True)
class Resolution:
    """Resolution and post-mortems."""

    ctx: IncidentContext
    card: IncidentCard
    status_updates: StatusUpdates
    due_work: DueWork

    def resolve_in(self, channel_id: str | None, summary: str, actor: Actor) -> IncidentOutcome:
        """`/incident resolve [summary]` in the incident channel."""
        with self.ctx.db.session() as s:
            row = self.card.in_channel(s, channel_id, "resolve")
        assert row.id is not None
        return self.resolve(row.id, summary, actor)

    def resolve(self, incident_id: int, summary: str, actor: Actor) -> IncidentOutcome:
        """Close the incident: page resolved, status page resolved, post-mortem drafted."""
        summary = " ".join(summary.split())
        now = self.ctx.clock.now()
        with self.ctx.db.session() as s:
            row = store.by_id(s, incident_id, for_update=True)
            if row is None or row.state != store.ACTIVE:
                raise InvalidTransition(
                    "That incident is already resolved." if row else "No such incident.",
                    Message("See ", Code("/incident list"), "."),
                )
            row.state, row.status, row.resolved_at = store.RESOLVED, Status.RESOLVED.value, now
            row.summary = summary or None
            row.active_source = None  # the next alert from the same source opens a new one
            row.version += 1
            store.save(s, row)
            said = f": {summary}" if summary else "."
            self.card.record(
                incident_id,
                EventKind.RESOLVED,
                Message(actor.named, f" resolved it{said}"),
                actor.id,
                session=s,
            )
            message = summary or self.status_updates.render_status(row, Status.RESOLVED.value)
            update, stale_dms = self.status_updates.queue_update(
                s, row, Status.RESOLVED.value, message, actor
            )
            store.cancel(s, incident_id, NUDGE, now)
            if row.paged:
                store.schedule(s, incident_id, PAGE_RESOLVE, now)
            for at in self.ctx.deadlines.postmortem_reminder_times(now):
                store.schedule(s, incident_id, PM_REMINDER, at)
            store.schedule(s, incident_id, PM_OVERDUE, self.ctx.deadlines.postmortem_due(now))
            audit.record(
                s,
                actor=actor,
                at=now,
                action="incident.resolved",
                subject_type="incident",
                subject_id=row.key,
                after={"summary": summary},
            )
            update_id = update.id
        assert update_id is not None
        self.due_work.run_due_for(incident_id)
        self.status_updates.publish_one(update_id)
        for stale in stale_dms:
            self.status_updates.show_draft(stale)
        self.write_postmortem(incident_id, actor)
        view = self.card.refresh(incident_id)
        return IncidentOutcome(view, IncidentResolved(view.title, view.postmortem_due))

    def render_postmortem_of(self, incident_id: int) -> str:
        """The post-mortem draft rendered from the current timeline."""
        with self.ctx.db.session() as s:
            row = store.by_id(s, incident_id)
            assert row is not None
            events = store.timeline(s, incident_id)
            pm = store.postmortem(s, incident_id)
            facts = facts_of(row)
        resolved = facts.resolved_at or self.ctx.clock.now()
        # A Markdown file, not a chat message: people by the name the chat knows them by.
        name = People(self.ctx.chat.display_name).namer()
        due = pm.due_at if pm else self.ctx.deadlines.postmortem_due(resolved)
        try:
            return render_postmortem(
                self.ctx.postmortem_template, facts, events, due, self.ctx.clock.now(), name
            )
        except Exception as exc:
            if self.ctx.postmortem_template == DEFAULT_POSTMORTEM:
                raise
            # A team template that fails must not cost the draft: use the shipped one.
            log.exception("post-mortem template %s failed", self.ctx.postmortem_template)
            self.card.record(
                incident_id,
                EventKind.NOTE,
                f"The post-mortem template failed ({type(exc).__name__}: {exc}); "
                "the draft uses rollbot's own template.",
            )
            return render_postmortem(
                DEFAULT_POSTMORTEM, facts, events, due, self.ctx.clock.now(), name
            )

    def write_postmortem(self, incident_id: int, actor: Actor) -> str:
        """Render, store and upload the post-mortem draft; return the Markdown."""
        markdown = self.render_postmortem_of(incident_id)
        now = self.ctx.clock.now()
        with self.ctx.db.session() as s:
            row = store.by_id(s, incident_id)
            assert row is not None and row.resolved_at is not None
            pm = store.postmortem(s, incident_id)
            if pm is None:
                pm = store.add_postmortem(
                    s,
                    incident_id,
                    markdown,
                    now,
                    self.ctx.deadlines.postmortem_due(row.resolved_at),
                )
            pm.markdown, pm.rendered_at = markdown, now
            store.save(s, pm)
            self.card.record(
                incident_id,
                EventKind.POSTMORTEM,
                Message(
                    "Post-mortem draft written by ",
                    actor.named,
                    f", due {pm.due_at:%Y-%m-%d %H:%M} UTC.",
                ),
                actor.id,
                session=s,
            )
            key, title, channel = row.key, row.title, row.channel_id
        file_id = self.ctx.safely(
            "upload the post-mortem",
            lambda: self.ctx.chat.upload(
                channel, f"postmortem-{key}.md", markdown, f"Post-mortem: {title}"
            ),
        )
        if file_id:
            with self.ctx.db.session() as s:
                pm = store.postmortem(s, incident_id)
                if pm is not None:
                    pm.file_id = file_id
                    store.save(s, pm)
        return markdown

    def postmortem(
        self, channel_id: str | None, actor: Actor, done: bool = False
    ) -> IncidentOutcome:
        """`/incident postmortem [done]`: re-render the draft, or mark it finished."""
        with self.ctx.db.session() as s:
            row = self.card.in_channel(s, channel_id, "postmortem")
        assert row.id is not None
        if row.state == store.ACTIVE:
            raise InvalidTransition(
                Message(
                    Strong(row.title),
                    " is still open; its post-mortem is drafted when it is resolved.",
                ),
                Message("Resolve it with ", Code("/incident resolve [summary]"), "."),
            )
        if not done:
            self.write_postmortem(row.id, actor)
            return IncidentOutcome(self.card.refresh(row.id), PostmortemRendered())
        now = self.ctx.clock.now()
        with self.ctx.db.session() as s:
            pm = store.postmortem(s, row.id)
            assert pm is not None
            if pm.done_at is not None:
                raise InvalidTransition(
                    f"The post-mortem was already marked done at {pm.done_at:%Y-%m-%d %H:%M} UTC."
                )
            pm.done_at, pm.done_by = now, actor.id
            store.save(s, pm)
            store.cancel(s, row.id, PM_REMINDER, now)
            store.cancel(s, row.id, PM_OVERDUE, now)
            self.card.record(
                row.id,
                EventKind.POSTMORTEM,
                Message(actor.named, " marked the post-mortem done."),
                actor.id,
                session=s,
            )
        return IncidentOutcome(self.card.refresh(row.id), PostmortemDone())
