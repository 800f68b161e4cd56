"""Resolving an incident and its post-mortem: drafted from the timeline at resolution,
uploaded to the channel, kept in the database, due 48 hours later with reminders."""

from __future__ import annotations

import logging

from bot.domain.actor import Actor
from bot.domain.errors import InvalidTransition
from bot.domain.incident import EventKind, Status
from bot.services.incidents.context import DEFAULT_TEMPLATES, IncidentOutcome
from bot.services.incidents.due_work import NUDGE, PAGE_RESOLVE, PM_OVERDUE, PM_REMINDER
from bot.services.incidents.postmortem import PostmortemFacts, render_postmortem
from bot.services.incidents.response import IncidentWork
from bot.store import audit
from bot.store import incidents as store
from bot.store.incident_models import IncidentRow, PostmortemRow

log = logging.getLogger(__name__)


def facts_of(row: IncidentRow) -> PostmortemFacts:
    """The template's view of a stored incident."""
    return PostmortemFacts(
        key=row.key,
        title=row.title,
        severity=row.severity,
        impact=row.impact,
        components=list(row.components),
        commander=f"<@{row.commander}>" if row.commander else None,
        declared_by=row.declared_by,
        declared_at=row.declared_at,
        resolved_at=row.resolved_at,
        summary=row.summary,
        source=row.source,
        source_ref=row.source_ref,
        channel_name=row.channel_name,
        rollout_id=row.rollout_id,
    )


class IncidentClose(IncidentWork):
    """Resolution and post-mortems."""

    def resolve_in(self, channel_id: str | None, summary: str, actor: Actor) -> IncidentOutcome:
        """`/incident resolve [summary]` in the incident channel."""
        with self.db.session() as s:
            row = self.in_channel(s, channel_id, "resolve")
        assert row.id is not None
        return self.resolve(row.id, summary, actor)

    def resolve(self, incident_id: int, summary: str, actor: Actor) -> IncidentOutcome:
        """Close the incident: page resolved, status page resolved, post-mortem drafted."""
        summary = " ".join(summary.split())
        now = self.clock.now()
        with self.db.session() as s:
            row = store.by_id(s, incident_id, for_update=True)
            if row is None or row.state != store.ACTIVE:
                raise InvalidTransition(
                    "That incident is already resolved." if row else "No such incident.",
                    "See `/incident list`.",
                )
            row.state, row.status, row.resolved_at = store.RESOLVED, Status.RESOLVED.value, now
            row.summary = summary or None
            row.active_source = None  # the next alert from the same source opens a new one
            row.version += 1
            s.add(row)
            said = f": {summary}" if summary else "."
            self.record(
                incident_id,
                EventKind.RESOLVED,
                f"{actor.mention} resolved it{said}",
                actor.id,
                session=s,
            )
            message = summary or self.render_status(row, Status.RESOLVED.value)
            update, stale_dms = self.queue_update(s, row, Status.RESOLVED.value, message, actor)
            store.cancel(s, incident_id, NUDGE, now)
            if row.paged:
                store.schedule(s, incident_id, PAGE_RESOLVE, now)
            for at in self.deadlines.postmortem_reminder_times(now):
                store.schedule(s, incident_id, PM_REMINDER, at)
            store.schedule(s, incident_id, PM_OVERDUE, self.deadlines.postmortem_due(now))
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
        self.run_due_for(incident_id)
        self.publish_one(update_id)
        for stale in stale_dms:
            self.show_draft(stale)
        self.write_postmortem(incident_id, actor)
        view = self.refresh(incident_id)
        due = view.postmortem_due
        when = f" (due {due:%Y-%m-%d %H:%M} UTC)" if due else ""
        return IncidentOutcome(view, f"Resolved *{view.title}*. Post-mortem draft uploaded{when}.")

    def render_postmortem_of(self, incident_id: int) -> str:
        """The post-mortem draft rendered from the current timeline."""
        with self.db.session() as s:
            row = store.by_id(s, incident_id)
            assert row is not None
            events = store.timeline(s, incident_id)
            pm = store.postmortem(s, incident_id)
            facts = facts_of(row)
        resolved = facts.resolved_at or self.clock.now()
        due = pm.due_at if pm else self.deadlines.postmortem_due(resolved)
        try:
            return render_postmortem(self.postmortem_template, facts, events, due, self.clock.now())
        except Exception as exc:
            if self.postmortem_template == DEFAULT_TEMPLATES / "postmortem.md.j2":
                raise
            # A team template that fails must not cost the draft: use the shipped one.
            log.exception("post-mortem template %s failed", self.postmortem_template)
            self.record(
                incident_id,
                EventKind.NOTE,
                f"The post-mortem template failed ({type(exc).__name__}: {exc}); "
                "the draft uses rollbot's own template.",
            )
            default = DEFAULT_TEMPLATES / "postmortem.md.j2"
            return render_postmortem(default, facts, events, due, self.clock.now())

    def write_postmortem(self, incident_id: int, actor: Actor) -> str:
        """Render, store and upload the post-mortem draft; return the Markdown."""
        markdown = self.render_postmortem_of(incident_id)
        now = self.clock.now()
        with self.db.session() as s:
            row = store.by_id(s, incident_id)
            assert row is not None and row.resolved_at is not None
            pm = store.postmortem(s, incident_id)
            if pm is None:
                pm = PostmortemRow(
                    incident_id=incident_id,
                    markdown=markdown,
                    rendered_at=now,
                    due_at=self.deadlines.postmortem_due(row.resolved_at),
                )
            pm.markdown, pm.rendered_at = markdown, now
            s.add(pm)
            self.record(
                incident_id,
                EventKind.POSTMORTEM,
                f"Post-mortem draft written by {actor.mention}, "
                f"due {pm.due_at:%Y-%m-%d %H:%M} UTC.",
                actor.id,
                session=s,
            )
            key, title, channel = row.key, row.title, row.channel_id
        file_id = self.safely(
            "upload the post-mortem",
            lambda: self.chat.upload(
                channel, f"postmortem-{key}.md", markdown, f"Post-mortem: {title}"
            ),
        )
        if file_id:
            with self.db.session() as s:
                pm = store.postmortem(s, incident_id)
                if pm is not None:
                    pm.file_id = file_id
                    s.add(pm)
        return markdown

    def postmortem(
        self, channel_id: str | None, actor: Actor, done: bool = False
    ) -> IncidentOutcome:
        """`/incident postmortem [done]`: re-render the draft, or mark it finished."""
        with self.db.session() as s:
            row = self.in_channel(s, channel_id, "postmortem")
        assert row.id is not None
        if row.state == store.ACTIVE:
            raise InvalidTransition(
                f"*{row.title}* is still open; its post-mortem is drafted when it is resolved.",
                "Resolve it with `/incident resolve [summary]`.",
            )
        if not done:
            self.write_postmortem(row.id, actor)
            return IncidentOutcome(
                self.refresh(row.id), "Post-mortem re-rendered from the timeline and uploaded."
            )
        now = self.clock.now()
        with self.db.session() as s:
            pm = store.postmortem(s, row.id)
            assert pm is not None
            if pm.done_at is not None:
                raise InvalidTransition(
                    f"The post-mortem was already marked done at {pm.done_at:%Y-%m-%d %H:%M} UTC."
                )
            pm.done_at, pm.done_by = now, actor.id
            s.add(pm)
            store.cancel(s, row.id, PM_REMINDER, now)
            store.cancel(s, row.id, PM_OVERDUE, now)
            self.record(
                row.id,
                EventKind.POSTMORTEM,
                f"{actor.mention} marked the post-mortem done.",
                actor.id,
                session=s,
            )
        return IncidentOutcome(self.refresh(row.id), "Post-mortem marked done; reminders stopped.")
