"""Due incident work: publications, pages, the five-minute check, nudges, post-mortem
reminders and the overdue flag.

`run_due()` is what the scheduler calls every few seconds. It reads what is due from
rollbot's own tables and claims each piece with a row lock and a lease before doing it, so
a restart picks up exactly where the last process stopped and two replicas never both act.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from bot.domain.durations import format_duration
from bot.domain.errors import DatabaseUnavailable, RollbotError
from bot.domain.incident import PAGER_SEVERITY, EventKind, Severity
from bot.domain.message import Code, Message, Strong
from bot.services.incidents.card import IncidentCard
from bot.services.incidents.context import IncidentContext
from bot.services.incidents.events import (
    PostmortemOverdue,
    PostmortemReminder,
    StatusDeadlineMissed,
    UpdateNudge,
)
from bot.services.incidents.ports import PagingError
from bot.services.incidents.status_updates import LEASE, StatusUpdates
from bot.services.incidents.views import IncidentView
from bot.services.rollouts.notifier import backoff
from bot.store import incidents as store

log = logging.getLogger(__name__)

MAX_JOB_ATTEMPTS = 10

PAGE = "page"
PAGE_ACK = "page_ack"
PAGE_RESOLVE = "page_resolve"
STATUS_DEADLINE = "status_deadline"
NUDGE = "nudge"
PM_REMINDER = "pm_reminder"
PM_OVERDUE = "pm_overdue"

WHAT = {
    PAGE: "page the on-call engineer",
    PAGE_ACK: "acknowledge the page",
    PAGE_RESOLVE: "resolve the page",
    STATUS_DEADLINE: "check the status update deadline",
    NUDGE: "nudge the commander",
    PM_REMINDER: "remind about the post-mortem",
    PM_OVERDUE: "flag the overdue post-mortem",
}


class DueWork:
    """Runs due work."""

    def __init__(
        self, ctx: IncidentContext, card: IncidentCard, status_updates: StatusUpdates
    ) -> None:
        self.ctx = ctx
        self.card = card
        self.status_updates = status_updates

    def run_due(self) -> int:
        """Do every piece of incident work that is due now; return how many ran."""
        now = self.ctx.clock.now()
        with self.ctx.db.session() as s:
            update_ids = store.due_update_ids(s, now)
            job_ids = store.due_job_ids(s, now)
        done = 0
        for update_id in update_ids:
            try:
                done += self.status_updates.publish_one(update_id)
            except DatabaseUnavailable:
                raise  # the tick says so once; the work stays due and is done when it is back
            except Exception:
                log.exception("publishing status update %s failed", update_id)
        for job_id in job_ids:
            try:
                done += self.run_job(job_id)
            except DatabaseUnavailable:
                raise
            except Exception:
                log.exception("incident job %s failed", job_id)
        return done

    def run_job(self, job_id: int) -> bool:
        """Claim one job and run it; on failure retry later with backoff."""
        now = self.ctx.clock.now()
        with self.ctx.db.session() as s:
            job = store.claim_job(s, job_id, now, LEASE, self.ctx.db.is_postgres)
            if job is None:
                return False
            kind, incident_id, attempts = job.kind, job.incident_id, job.attempts
        handlers: dict[str, Callable[[IncidentView], None]] = {
            PAGE: self._page,
            PAGE_ACK: self._page_ack,
            PAGE_RESOLVE: self._page_resolve,
            STATUS_DEADLINE: self._status_deadline,
            NUDGE: self._nudge,
            PM_REMINDER: self._postmortem_reminder,
            PM_OVERDUE: self._postmortem_overdue,
        }
        error: str | None = None
        try:
            handlers[kind](self.card.view(incident_id))
        except (PagingError, RollbotError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]  # written for people, no secrets
            log.warning("incident job %s (%s) failed: %s", job_id, kind, error)
        except Exception as exc:
            # Anything else may carry text nobody vetted (a URL with a key, a token): only
            # its kind goes on the timeline; the traceback goes to the log.
            error = f"unexpected {type(exc).__name__}"
            log.exception("incident job %s (%s) failed", job_id, kind)
        with self.ctx.db.session() as s:
            job = store.job(s, job_id)
            if job is None:
                return False
            job.last_error = error
            if error is None or attempts >= MAX_JOB_ATTEMPTS:
                job.done_at = self.ctx.clock.now()
                job.lease_until = None
                if error is not None:
                    self.card.record(
                        incident_id,
                        EventKind.NOTE,
                        f"rollbot gave up trying to {WHAT.get(kind, kind)} after {attempts} "
                        f"attempts: {error}",
                        session=s,
                    )
            else:
                wait = backoff(attempts)
                job.lease_until = self.ctx.clock.now() + wait
                if attempts == 1:
                    self.card.record(
                        incident_id,
                        EventKind.NOTE,
                        f"Could not {WHAT.get(kind, kind)}: {error}; "
                        f"retrying in {format_duration(wait)}.",
                        session=s,
                    )
            store.save_job(s, job)
        return error is None

    def run_due_for(self, incident_id: int) -> None:
        """Run an incident's pager jobs that are due now (right after the change)."""
        now = self.ctx.clock.now()
        with self.ctx.db.session() as s:
            jobs = [
                j.id
                for j in store.pending_jobs(s, incident_id)
                if j.due_at <= now and j.kind.startswith("page") and j.id is not None
            ]
        for job_id in jobs:
            assert job_id is not None
            self.run_job(job_id)

    # -- the pager -------------------------------------------------------------------------

    def _page(self, view: IncidentView) -> None:
        if self.ctx.pager is None or not view.active:
            return  # resolved before the pager could be reached: nobody to wake up
        self.ctx.pager.trigger(
            dedup_key=view.key,
            summary=f"[{view.severity.upper()}] {view.title}"[:1024],
            source="rollbot",
            severity=PAGER_SEVERITY[Severity(view.severity)],
            details={
                "incident": view.key,
                "severity": view.severity,
                "impact": view.impact,
                "components": list(view.components),
                "commander": view.commander,
                "declared_by": view.declared_by,
                "channel": f"#{view.channel_name}" if view.channel_name else None,
                "rollout_id": view.rollout_id,
            },
        )
        with self.ctx.db.session() as s:
            row = store.by_id(s, view.id, for_update=True)
            if row is not None:
                row.paged = True
                store.save(s, row)
            self.card.record(
                view.id,
                EventKind.PAGED,
                Message(
                    "Paged the on-call engineer through PagerDuty (dedup key ", Code(view.key), ")."
                ),
                session=s,
            )
        if view.acknowledged_at is not None:
            # Acknowledged here while the pager was still unreachable: tell it now too.
            self.ctx.pager.acknowledge(view.key)
        self.card.refresh(view.id)

    def _page_ack(self, view: IncidentView) -> None:
        if self.ctx.pager is not None:
            self.ctx.pager.acknowledge(view.key)
            self.card.record(view.id, EventKind.NOTE, "PagerDuty page acknowledged.")

    def _page_resolve(self, view: IncidentView) -> None:
        if self.ctx.pager is not None:
            self.ctx.pager.resolve(view.key)
            self.card.record(view.id, EventKind.NOTE, "PagerDuty page resolved.")

    # -- deadlines and nudges --------------------------------------------------------------

    def _status_deadline(self, view: IncidentView) -> None:
        with self.ctx.db.session() as s:
            updates = store.updates_of(s, view.id)
        if any(u.state == "published" for u in updates):
            return
        errors = [u.last_error for u in updates if u.last_error]
        last_error = errors[-1] if errors else None
        why = f" Last error: {last_error}" if last_error else ""
        limit = self.ctx.deadlines.status_update
        text = (
            f"The first status update was not published within {format_duration(limit)} "
            f"of declaration.{why}"
        )
        self.card.record(view.id, EventKind.DEADLINE_MISSED, text)
        self.card.tell(view, StatusDeadlineMissed(view.title, limit, last_error))
        self.card.tell_commander(
            view, StatusDeadlineMissed(view.title, limit, last_error, to_commander=True)
        )
        self.card.refresh(view.id)

    def _nudge(self, view: IncidentView) -> None:
        now = self.ctx.clock.now()
        if not view.active or view.last_update_at is None:
            return
        if now < self.ctx.deadlines.next_nudge(view.last_update_at):
            return  # an update went out since this nudge was planned
        quiet = now - view.last_update_at
        # The timeline's record keeps its words (the post-mortem quotes it).
        text = Message(
            "Nudged the commander: ",
            f"No status update for {format_duration(quiet)}. Post one with ",
            Code("/incident update <investigating|identified|monitoring|resolved> <message>"),
            ".",
        )
        self.card.record(view.id, EventKind.NUDGE, text)
        self.card.tell_commander(view, UpdateNudge(view.title, quiet, to_commander=True))
        self.card.tell(view, UpdateNudge(view.title, quiet))
        with self.ctx.db.session() as s:
            store.schedule(s, view.id, NUDGE, now + self.ctx.deadlines.update_interval)
        self.card.refresh(view.id)

    # -- post-mortems ----------------------------------------------------------------------

    def _postmortem_reminder(self, view: IncidentView) -> None:
        if view.postmortem_done or view.postmortem_due is None:
            return
        left = max(timedelta(0), view.postmortem_due - self.ctx.clock.now())
        self.card.tell_commander(view, PostmortemReminder(view.title, left))
        self.card.tell(view, PostmortemReminder(view.title, left))

    def _postmortem_overdue(self, view: IncidentView) -> None:
        if view.postmortem_done:
            return
        text = Message("The post-mortem of ", Strong(view.title), " is overdue.")
        self.card.record(view.id, EventKind.POSTMORTEM, text)
        self.card.tell_commander(view, PostmortemOverdue(view.title, to_commander=True))
        self.card.tell(view, PostmortemOverdue(view.title))
        self.card.refresh(view.id)
