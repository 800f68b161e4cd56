"""Declaring an incident: the commander, the record with its draft and deadlines, the
channel, the page.

The incident, its first draft and its due work commit together before anything is sent
anywhere, so the five-minute guarantee never depends on Slack or PagerDuty answering.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
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
from bot.domain.message import Code, Message, person
from bot.services.incidents.card import IncidentCard
from bot.services.incidents.context import IncidentContext
from bot.services.incidents.due_work import PAGE, STATUS_DEADLINE, DueWork
from bot.services.incidents.events import IncidentAnnounced, IncidentDeclared
from bot.services.incidents.ports import PagingError
from bot.services.incidents.status_updates import StatusUpdates
from bot.services.incidents.views import ChannelNameTaken, IncidentOutcome, IncidentView
from bot.store import audit
from bot.store import incidents as store

log = logging.getLogger(__name__)

MAX_TITLE = 200


def is_chat_user(user_id: str | None) -> TypeGuard[str]:
    """True for Slack user ids (people that can be invited and messaged)."""
    return user_id is not None and user_id.startswith(("U", "W"))


@dataclass(frozen=True)
class Declaring:
    """Declaration."""

    ctx: IncidentContext
    card: IncidentCard
    status_updates: StatusUpdates
    due_work: DueWork

    def find_commander(self, actor: Actor) -> tuple[str | None, str]:
        """The on-call engineer mapped to a chat user, else the declarer; and why."""
        if self.ctx.pager is not None:
            try:
                on_call = self.ctx.pager.on_call()
            except PagingError as exc:
                on_call = None
                log.warning("on-call lookup failed: %s", exc)
            if on_call is not None:
                user = self.ctx.safely(
                    "look up the on-call engineer",
                    lambda: self.ctx.chat.user_by_email(on_call.email),
                )
                if user:
                    return user, f"on call ({on_call.name})"
        if actor.via in (Via.SLACK, Via.SHELL):
            return actor.id, "declared it"
        return self.ctx.config.fallback_commander, "configured fallback commander"

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
                "An incident needs a title.",
                Message("Example: ", Code("/incident declare sev2 API errors"), "."),
            )
        if len(title) > MAX_TITLE:
            raise RollbotError(f"The title is {len(title)} characters; keep it under {MAX_TITLE}.")
        commander, why = self.find_commander(actor)
        now = self.ctx.clock.now()
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
                Message(
                    f"An incident for {source} ",
                    Code(str(source_ref)),
                    " was opened at the same moment.",
                ),
                "It gets this one's events instead.",
            ) from None
        self._open_channel(incident_id, actor)
        if pages:
            with self.ctx.db.session() as s:
                jobs = [j.id for j in store.pending_jobs(s, incident_id) if j.kind == PAGE]
            for job_id in jobs:
                if job_id is not None:
                    self.due_work.run_job(job_id)
        self.status_updates.show_draft(draft_id)
        view = self.card.refresh(incident_id)
        self._announce(view, origin_channel)
        return IncidentOutcome(view, IncidentDeclared(view.severity, view.title, view.channel_id))

    def _announce(self, view: IncidentView, origin_channel: str | None) -> None:
        """Tell the channel it was declared in, and the announce channel, where it is."""
        if not view.channel_id:
            return
        text = IncidentAnnounced(view.severity, view.title, view.channel_id)
        targets = [origin_channel, self.ctx.config.announce_channel]
        for target in dict.fromkeys(t for t in targets if t and t[:1] in ("C", "G")):
            if target != view.channel_id:
                self.ctx.safely("announce the incident", partial(self.ctx.chat.post, target, text))

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
        with self.ctx.db.session() as s:
            row = store.add_incident(
                s,
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
            assert row.id is not None
            row.key = incident_key(now, title, row.id)
            how = f" ({detail})" if detail else ""
            self.card.record(
                row.id,
                EventKind.DECLARED,
                Message(actor.named, f" declared {severity.value.upper()}: {title}{how}"),
                actor.id,
                session=s,
            )
            if commander:
                self.card.record(
                    row.id,
                    EventKind.COMMANDER,
                    Message(person(commander), f" is the incident commander ({why})."),
                    session=s,
                )
            draft = self.status_updates.draft_first(s, row, now)
            self.card.record(
                row.id,
                EventKind.STATUS_DRAFTED,
                f"First status update drafted; published automatically at "
                f"{draft.next_attempt_at:%H:%M:%S} UTC unless published before.",
                session=s,
            )
            store.schedule(s, row.id, STATUS_DEADLINE, self.ctx.deadlines.status_due(now))
            pages = (
                self.ctx.pager is not None
                and page
                and severity.value in self.ctx.config.page_severities
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
        view = self.card.view(incident_id)
        channel_id: str | None = None
        name = ""
        for attempt in range(1, 10):
            name = channel_name(
                self.ctx.config.channel_prefix, view.declared_at, view.title, attempt
            )
            try:
                channel_id = self.ctx.chat.create_channel(name, self.ctx.config.private_channels)
                break
            except ChannelNameTaken:
                continue
            except Exception as exc:
                log.warning("could not create incident channel %s: %s", name, exc)
                self.card.record(incident_id, EventKind.NOTE, f"Could not create #{name}: {exc}")
                return
        else:
            self.card.record(incident_id, EventKind.NOTE, f"Channel names up to #{name} are taken.")
            return
        if channel_id is None:
            return  # a chat without channels (none connected)
        people = sorted(
            {p for p in (view.commander, actor.id, *self.ctx.config.invite) if is_chat_user(p)}
        )
        with self.ctx.db.session() as s:
            row = store.by_id(s, incident_id, for_update=True)
            assert row is not None
            row.channel_id, row.channel_name = channel_id, name
            store.save(s, row)
            invited = Message.join(", ", (person(p) for p in people))
            text = Message(
                f"Opened #{name}", Message(" and invited ", invited, ".") if people else "."
            )
            self.card.record(incident_id, EventKind.CHANNEL, text, session=s)
        if people:
            target = channel_id
            self.ctx.safely(
                "invite people to the incident channel",
                lambda: self.ctx.chat.invite(target, people),
            )
