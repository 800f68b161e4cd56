"""Declaring an incident: the commander, the record with its draft and deadlines, the
channel, the page.

The incident, its first draft and its due work commit together before anything is sent
anywhere, so the five-minute guarantee never depends on Slack or PagerDuty answering.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from functools import partial
from typing import TypeGuard

from sqlalchemy.exc import IntegrityError

from bot.domain.actor import Actor, Via
from bot.domain.errors import Conflict, RollbotError
from bot.domain.incident import (
    DEFAULT_IMPACT,
    EventKind,
    Impact,
    Severity,
    Status,
    channel_name,
    incident_key,
)
from bot.services.incidents.context import IncidentOutcome
from bot.services.incidents.due_work import PAGE, STATUS_DEADLINE, IncidentJobs
from bot.services.incidents.ports import PagingError
from bot.services.incidents.views import ChannelNameTaken, IncidentView
from bot.store import audit
from bot.store import incidents as store
from bot.store.incident_models import IncidentRow

log = logging.getLogger(__name__)

MAX_TITLE = 200


def is_chat_user(user_id: str | None) -> TypeGuard[str]:
    """True for Slack user ids (people that can be invited and messaged)."""
    return user_id is not None and user_id.startswith(("U", "W"))


class IncidentDeclare(IncidentJobs):
    """Declaration."""

    def find_commander(self, actor: Actor) -> tuple[str | None, str]:
        """The on-call engineer mapped to a chat user, else the declarer; and why."""
        if self.pager is not None:
            try:
                on_call = self.pager.on_call()
            except PagingError as exc:
                on_call = None
                log.warning("on-call lookup failed: %s", exc)
            if on_call is not None:
                user = self.safely(
                    "look up the on-call engineer", lambda: self.chat.user_by_email(on_call.email)
                )
                if user:
                    return user, f"on call ({on_call.name})"
        if actor.via in (Via.SLACK, Via.SHELL):
            return actor.id, "declared it"
        return self.config.fallback_commander, "configured fallback commander"

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
        """Open an incident: record it, its draft and its deadlines, then set up the chat.

        `origin_channel` is where it was declared; it hears about the incident channel,
        as does `incidents.announce_channel`.
        """
        title = " ".join(title.split())
        if not title:
            raise RollbotError(
                "An incident needs a title.", "Example: `/incident declare sev2 API errors`."
            )
        if len(title) > MAX_TITLE:
            raise RollbotError(f"The title is {len(title)} characters; keep it under {MAX_TITLE}.")
        commander, why = self.find_commander(actor)
        now = self.clock.now()
        try:
            incident_id, draft_id, pages = self._insert(
                severity,
                title,
                actor,
                impact,
                components,
                source,
                source_ref,
                rollout_id,
                detail,
                page,
                commander,
                why,
                now,
            )
        except IntegrityError:
            raise Conflict(
                f"An incident for {source} `{source_ref}` was opened at the same moment.",
                "It gets this one's events instead.",
            ) from None
        self._open_channel(incident_id, actor)
        if pages:
            with self.db.session() as s:
                jobs = [j.id for j in store.pending_jobs(s, incident_id) if j.kind == PAGE]
            for job_id in jobs:
                if job_id is not None:
                    self.run_job(job_id)
        self.show_draft(draft_id)
        view = self.refresh(incident_id)
        self._announce(view, origin_channel)
        where = f" in <#{view.channel_id}>" if view.channel_id else ""
        return IncidentOutcome(view, f"Declared {view.severity.upper()} *{view.title}*{where}.")

    def _announce(self, view: IncidentView, origin_channel: str | None) -> None:
        """Tell the channel it was declared in, and the announce channel, where it is."""
        if not view.channel_id:
            return
        text = (
            f":rotating_light: {view.severity.upper()} incident declared: *{view.title}* — "
            f"follow it in <#{view.channel_id}>."
        )
        targets = [origin_channel, self.config.announce_channel]
        for target in dict.fromkeys(t for t in targets if t and t[:1] in ("C", "G")):
            if target != view.channel_id:
                self.safely("announce the incident", partial(self.chat.post, target, text))

    def _insert(
        self,
        severity: Severity,
        title: str,
        actor: Actor,
        impact: Impact | None,
        components: list[str] | None,
        source: str,
        source_ref: str | None,
        rollout_id: int | None,
        detail: str | None,
        page: bool,
        commander: str | None,
        why: str,
        now: datetime,
    ) -> tuple[int, int, bool]:
        """The incident, its first draft and its due work, in one transaction."""
        with self.db.session() as s:
            row = IncidentRow(
                key=f"pending-{uuid.uuid4().hex}",
                title=title,
                severity=severity.value,
                status=Status.INVESTIGATING.value,
                state=store.ACTIVE,
                impact=(impact or DEFAULT_IMPACT[severity]).value,
                components=[c.strip() for c in components or [] if c.strip()][:20],
                commander=commander,
                declared_by=actor.id,
                declared_at=now,
                source=source,
                source_ref=source_ref,
                active_source=f"{source}:{source_ref}" if source_ref else None,
                rollout_id=rollout_id,
            )
            s.add(row)
            s.flush()
            assert row.id is not None
            row.key = incident_key(now, title, row.id)
            how = f" ({detail})" if detail else ""
            self.record(
                row.id,
                EventKind.DECLARED,
                f"{actor.mention} declared {severity.value.upper()}: {title}{how}",
                actor.id,
                session=s,
            )
            if commander:
                self.record(
                    row.id,
                    EventKind.COMMANDER,
                    f"<@{commander}> is the incident commander ({why})."
                    if is_chat_user(commander)
                    else f"{commander} is the incident commander ({why}).",
                    session=s,
                )
            draft = self.draft_first(s, row, now)
            self.record(
                row.id,
                EventKind.STATUS_DRAFTED,
                f"First status update drafted; published automatically at "
                f"{draft.next_attempt_at:%H:%M:%S} UTC unless published before.",
                session=s,
            )
            store.schedule(s, row.id, STATUS_DEADLINE, self.deadlines.status_due(now))
            pages = (
                self.pager is not None and page and severity.value in self.config.page_severities
            )
            if pages:
                store.schedule(s, row.id, PAGE, now)
            audit.record(
                s,
                actor=actor,
                at=now,
                action="incident.declared",
                subject_type="incident",
                subject_id=row.key,
                after={"severity": row.severity, "title": title, "source": source},
            )
            assert draft.id is not None
            return row.id, draft.id, pages

    def _open_channel(self, incident_id: int, actor: Actor) -> None:
        """Create the incident channel (numbering the name when taken) and invite people."""
        view = self.view(incident_id)
        channel_id: str | None = None
        name = ""
        for attempt in range(1, 10):
            name = channel_name(self.config.channel_prefix, view.declared_at, view.title, attempt)
            try:
                channel_id = self.chat.create_channel(name, self.config.private_channels)
                break
            except ChannelNameTaken:
                continue
            except Exception as exc:
                log.warning("could not create incident channel %s: %s", name, exc)
                self.record(incident_id, EventKind.NOTE, f"Could not create #{name}: {exc}")
                return
        else:
            self.record(incident_id, EventKind.NOTE, f"Channel names up to #{name} are taken.")
            return
        if channel_id is None:
            return  # a chat without channels (none connected)
        people = sorted(
            {p for p in (view.commander, actor.id, *self.config.invite) if is_chat_user(p)}
        )
        with self.db.session() as s:
            row = store.by_id(s, incident_id, for_update=True)
            assert row is not None
            row.channel_id, row.channel_name = channel_id, name
            s.add(row)
            invited = ", ".join(f"<@{p}>" for p in people)
            text = f"Opened #{name}" + (f" and invited {invited}." if people else ".")
            self.record(incident_id, EventKind.CHANNEL, text, session=s)
        if people:
            target = channel_id
            self.safely(
                "invite people to the incident channel", lambda: self.chat.invite(target, people)
            )
