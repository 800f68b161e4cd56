"""Public status updates: the first draft, Publish / Edit, automatic publication, retries
with backoff and fallback to the next status page.

A status update is due work in its own row (`next_attempt_at`): the first draft is due at
the auto-publish point (4 minutes by default), a failed attempt again after a backoff. Each
attempt leases the row under a lock, calls the provider outside the lock and records the
result, so a restart or a second replica neither loses nor doubles a publication.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.domain.actor import Actor
from bot.domain.durations import format_duration, parse_duration
from bot.domain.errors import InvalidTransition, NotFound, RollbotError
from bot.domain.incident import EventKind, Status
from bot.domain.message import Code, Message
from bot.services.incidents.card import IncidentCard
from bot.services.incidents.context import IncidentContext
from bot.services.incidents.events import DraftPublished, StatusUpdatePublished
from bot.services.incidents.ports import StatusPageError, StatusUpdate
from bot.services.incidents.templates import load_template
from bot.services.incidents.views import DraftView, IncidentOutcome, draft_view
from bot.store import incidents as store
from bot.store.incident_models import IncidentRow, IncidentStatusUpdateRow

log = logging.getLogger(__name__)

# How long an attempt holds a publication (or a job) before another process may take it
# over. Longer than a provider call may take (they time out sooner), and short enough that
# a process dying at the 4-minute point leaves time to publish before the 5-minute one.
LEASE = timedelta(seconds=30)
MAX_PUBLISH_ATTEMPTS = 200
MAX_MESSAGE = 4000


class StatusUpdates:
    """Drafting and publishing status updates."""

    def __init__(self, ctx: IncidentContext, card: IncidentCard) -> None:
        self.ctx = ctx
        self.card = card

    def render_status(self, row: IncidentRow, status: str) -> str:
        """The drafted text of a status update from the status template.

        A broken team template must not stop a declaration (the deadline runs): it is
        logged and a plain sentence is used instead.
        """
        try:
            env, name = load_template(self.ctx.status_template)
            text = env.get_template(name).render(
                title=row.title,
                severity=row.severity,
                status=status,
                impact=row.impact,
                components=list(row.components),
                next_update=format_duration(self.ctx.deadlines.update_interval),
            )
        except Exception:
            log.exception(
                "status template %s failed; using a plain update", self.ctx.status_template
            )
            text = f"{row.title}: {status}."
        return " ".join(text.split())[:MAX_MESSAGE] or f"{row.title}: {status}."

    def draft_first(self, s: Session, row: IncidentRow, now: datetime) -> IncidentStatusUpdateRow:
        """The first update (investigating), due for automatic publication."""
        assert row.id is not None
        return store.add_status_update(
            s,
            incident_id=row.id,
            status=Status.INVESTIGATING.value,
            message=self.render_status(row, Status.INVESTIGATING.value),
            impact=row.impact,
            components=list(row.components),
            state="draft",
            created_by="rollbot",
            created_at=now,
            deadline_at=self.ctx.deadlines.status_due(row.declared_at),
            next_attempt_at=self.ctx.deadlines.auto_publish_at(row.declared_at),
        )

    def queue_update(
        self, s: Session, row: IncidentRow, status: str, message: str, actor: Actor
    ) -> tuple[IncidentStatusUpdateRow, list[int]]:
        """A new update to publish now; older unpublished ones are superseded by it.
        Also returns the superseded drafts whose DM must be refreshed."""
        assert row.id is not None
        now = self.ctx.clock.now()
        # Drafts whose DM still offers Publish: the caller refreshes those DMs after commit.
        stale_dms = [
            u.id for u in store.supersede_pending(s, row.id) if u.dm_ts and u.id is not None
        ]
        update = store.add_status_update(
            s,
            incident_id=row.id,
            status=status,
            message=message[:MAX_MESSAGE],
            impact=row.impact,
            components=list(row.components),
            state="queued",
            created_by=actor.id,
            created_at=now,
            next_attempt_at=now,
            published_by=actor.id,
        )
        return update, stale_dms

    # -- the commander's buttons -----------------------------------------------------------

    def draft(self, update_id: int) -> DraftView:
        """A status update as its DM shows it."""
        with self.ctx.db.session() as s:
            row = store.status_update(s, update_id)
            incident = store.by_id(s, row.incident_id) if row else None
            if row is None or incident is None:
                raise NotFound(f"Status update {update_id} does not exist.")
            return draft_view(row, incident)

    def _pending_draft(self, s: Session, update_id: int) -> IncidentStatusUpdateRow:
        row = store.status_update(s, update_id, for_update=True)
        if row is None:
            raise NotFound(f"Status update {update_id} does not exist.")
        if row.state == "published":
            when = f"{row.published_at:%H:%M:%S} UTC" if row.published_at else "already"
            raise InvalidTransition(
                f"That status update was already published ({when}, to {row.provider_used}).",
                Message("Post a newer one with ", Code("/incident update <status> <message>"), "."),
            )
        if row.state in ("superseded", "failed"):
            raise InvalidTransition(
                f"That status update is {row.state}; a newer one replaced it or it gave up.",
                Message("Post a new one with ", Code("/incident update <status> <message>"), "."),
            )
        return row

    def publish_draft(self, update_id: int, actor: Actor) -> IncidentOutcome:
        """The commander pressed Publish: publish now (retrying if the page fails)."""
        with self.ctx.db.session() as s:
            row = self._pending_draft(s, update_id)  # locked: the scheduler may publish it too
            if row.state == "draft":
                row.state = "queued"
                row.published_by = actor.id
                row.next_attempt_at = self.ctx.clock.now()
                store.save(s, row)
            incident_id = row.incident_id
        published = self.publish_one(update_id)
        view = self.card.view(incident_id)
        return IncidentOutcome(view, DraftPublished(actor, published))

    def publish_pending(self, channel_id: str | None, actor: Actor) -> IncidentOutcome:
        """`/incident publish`: the channel's pending draft, published now."""
        with self.ctx.db.session() as s:
            row = self.card.in_channel(s, channel_id, "publish")
            assert row.id is not None
            pending = [u for u in store.updates_of(s, row.id) if u.state in ("draft", "queued")]
        if not pending or pending[-1].id is None:
            raise InvalidTransition(
                "There is no status update waiting to be published.",
                Message("Post one with ", Code("/incident update <status> <message>"), "."),
            )
        return self.publish_draft(pending[-1].id, actor)

    def edit_draft(self, update_id: int, message: str, actor: Actor) -> DraftView:
        """Replace the text of a draft that is not out yet."""
        text = " ".join(message.split())
        if not text:
            raise RollbotError("A status update needs some text.", "Write what users should know.")
        with self.ctx.db.session() as s:
            row = self._pending_draft(s, update_id)
            row.message = text[:MAX_MESSAGE]
            store.save(s, row)
            self.card.record(
                row.incident_id,
                EventKind.STATUS_DRAFTED,
                Message(actor.named, f" edited the {row.status} draft: {row.message}"),
                actor.id,
                session=s,
            )
        self.show_draft(update_id)
        return self.draft(update_id)

    def show_draft(self, update_id: int) -> None:
        """DM the draft to the commander (or edit that DM); remember where it is."""
        draft = self.draft(update_id)
        view = self.card.view(draft.incident_id)
        if not view.commander:
            return
        commander = view.commander
        location = self.ctx.safely(
            "send the draft to the commander", lambda: self.ctx.chat.show_draft(commander, draft)
        )
        if location is not None and draft.dm_ts is None:
            with self.ctx.db.session() as s:
                row = store.status_update(s, update_id)
                if row is not None:
                    row.dm_channel, row.dm_ts = location.channel_id, location.message_ts
                    store.save(s, row)

    # -- publishing ------------------------------------------------------------------------

    def publish_one(self, update_id: int) -> bool:
        """One attempt (and, on a switch to a fallback provider, its immediate retry)."""
        for _ in range(max(1, len(self.ctx.status_pages))):
            outcome = self._attempt(update_id)
            if outcome != "switched":
                return outcome == "published"
        return False

    def _attempt(self, update_id: int) -> str:
        now = self.ctx.clock.now()
        with self.ctx.db.session() as s:
            row = store.claim_update(s, update_id, now, LEASE, self.ctx.db.is_postgres)
            incident = store.by_id(s, row.incident_id) if row else None
            if row is None or incident is None:
                return "skipped"
            automatic = row.state == "draft"
            if automatic:
                row.state = "queued"
                row.published_by = "rollbot"
            update = StatusUpdate(
                incident.key,
                incident.title,
                row.status,
                row.message,
                row.impact,
                list(row.components),
                now,
                started_at=incident.declared_at,
            )
            index = row.provider_index % len(self.ctx.status_pages) if self.ctx.status_pages else 0
        if not self.ctx.status_pages:
            self._published(update_id, "incident channel", None, automatic)
            return "published"
        provider = self.ctx.status_pages[index]
        try:
            reference = provider.publish(update)
        except StatusPageError as exc:
            log.warning("status page %s failed for %s: %s", provider.name, update.incident_key, exc)
            return self._failed(update_id, index, provider.name, str(exc))
        except Exception as exc:
            # A provider bug: its text was never vetted for secrets, so only its kind goes
            # on the timeline; the traceback goes to the log.
            log.exception("status page %s crashed for %s", provider.name, update.incident_key)
            return self._failed(update_id, index, provider.name, f"unexpected {type(exc).__name__}")
        self._published(update_id, provider.name, reference, automatic)
        return "published"

    def _failed(self, update_id: int, index: int, name: str, exc: str) -> str:
        now = self.ctx.clock.now()
        count = len(self.ctx.status_pages)
        first = parse_duration(self.ctx.config.publish_retry_first)
        longest = parse_duration(self.ctx.config.publish_retry_max)
        with self.ctx.db.session() as s:
            row = store.status_update(s, update_id, for_update=True)
            if row is None or row.state != "queued":
                return "skipped"
            row.attempts += 1
            row.provider_attempts += 1
            row.last_error = f"{name}: {exc}"[:500]
            row.lease_until = None
            wait = min(longest, first * 2 ** (row.provider_attempts - 1))
            near_deadline = row.deadline_at is not None and now + wait >= row.deadline_at
            switch = count > 1 and (
                row.provider_attempts >= self.ctx.config.attempts_per_provider or near_deadline
            )
            outcome = "retry"
            if switch:
                row.provider_index = (index + 1) % count
                row.provider_attempts = 0
                wait = timedelta(0)
                outcome = "switched"
            row.next_attempt_at = now + wait
            text = f"Status page {name} failed (attempt {row.attempts}): {exc}."
            if row.attempts >= MAX_PUBLISH_ATTEMPTS:
                row.state, row.next_attempt_at, outcome = "failed", None, "failed"
                text += " rollbot gave up on this update; post it by hand."
            elif switch:
                text += f" Falling back to {self.ctx.status_pages[row.provider_index].name}."
            else:
                text += f" Retrying in {format_duration(wait)}."
            store.save(s, row)
            if row.attempts <= 3 or switch or outcome == "failed" or row.attempts % 10 == 0:
                self.card.record(row.incident_id, EventKind.STATUS_FAILED, text, session=s)
        return outcome

    def _trouble(self, row: IncidentStatusUpdateRow, provider: str) -> str:
        """What made this publication late or indirect, for the timeline and the channel:
        the primary page was down (the fallback took it), or it failed before it took it."""
        pages = self.ctx.status_pages
        primary = pages[0].name if pages else provider
        if not row.attempts:
            return ""
        failed = f"{row.attempts} failed attempt{'s' if row.attempts != 1 else ''}"
        if provider != primary:
            return f", the fallback: {primary} was down ({failed}; last: {row.last_error})"
        return f", after {failed} (last: {row.last_error})"

    def _published(self, update_id: int, provider: str, reference: str | None, auto: bool) -> None:
        now = self.ctx.clock.now()
        with self.ctx.db.session() as s:
            # Incident first, then the update: the same order as status changes and
            # resolution, so two transactions never wait for each other in a circle.
            found = store.status_update(s, update_id)
            incident = store.by_id(s, found.incident_id, for_update=True) if found else None
            row = store.status_update(s, update_id, for_update=True) if found else None
            if row is None or incident is None or incident.id is None:
                return
            if row.state == "published":
                return  # a slower attempt whose lease had run out; the first one counts
            row.state, row.published_at = "published", now
            row.provider_used, row.reference = provider, reference
            row.lease_until = row.next_attempt_at = None
            store.save(s, row)
            first = incident.last_update_at is None
            incident.last_update_at = now
            incident.version += 1
            store.save(s, incident)
            how = " automatically (nobody had published the draft)" if auto else ""
            where = f"{provider} ({reference})" if reference else provider
            trouble = self._trouble(row, provider)
            pages = self.ctx.status_pages
            said = StatusUpdatePublished(
                row.status,
                row.message,
                provider,
                primary=pages[0].name if pages else provider,
                failed_attempts=row.attempts,
                last_error=row.last_error,
            )
            self.card.record(
                incident.id,
                EventKind.STATUS_PUBLISHED,
                f"{row.status}: {row.message} — published to {where}{how}{trouble}",
                row.published_by or "rollbot",
                session=s,
            )
            store.cancel(s, incident.id, "nudge", now)
            if incident.state == store.ACTIVE:
                store.schedule(s, incident.id, "nudge", self.ctx.deadlines.next_nudge(now))
            incident_id = incident.id
            had_dm = row.dm_ts is not None
            declared_at = incident.declared_at
        if first:  # counted once it is committed: the incident's first update is out
            self.ctx.telemetry.first_status_update((now - declared_at).total_seconds())
        view = self.card.refresh(incident_id)
        # Which page took it is news only when it was not the first try on the primary.
        self.card.tell(view, said)
        if had_dm:  # the commander's draft DM now says it is out, without buttons
            self.show_draft(update_id)
