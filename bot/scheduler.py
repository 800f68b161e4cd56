"""Scheduled work: APScheduler wakes the process up; rollbot's own tables say what is due.

The jobs live in APScheduler's SQLAlchemy job store (in rollbot's database), so they survive
a restart. Two replicas would both run them (APScheduler does not coordinate stores), which is
why a job only *looks for* due work: each piece is claimed with a row lock in the services,
so it runs once.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.container import Rollbot
from bot.domain.errors import DatabaseUnavailable
from bot.wording import words

log = logging.getLogger(__name__)


def _tick_failed(tick: str) -> None:
    """Log why a tick failed (call it in an `except`). A database that does not answer is
    one line without a traceback: the next tick tries again, and catches up, once it is
    back; anything else is logged with its traceback."""
    if isinstance(sys.exc_info()[1], DatabaseUnavailable):
        log.warning("%s skipped: the database is unavailable; the next tick tries again", tick)
    else:
        log.exception("%s failed", tick)


_running: Rollbot | None = None

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ROLLOUT_TICK = "rollout-tick"
SIGNOFF_TICK = "signoff-tick"
METRICS_TICK = "metrics-tick"
INCIDENT_TICK = "incident-tick"
DIGEST_TICK = "digest-tick"
REQUESTS_PRUNE = "request-ledger-prune"
# The request ledger keeps a day; forgetting the older ones hourly keeps it at about a day.
PRUNE_SECONDS = 3600


def rollout_tick() -> None:
    """Advance rollouts whose bake time passed, retry undelivered notifications, and resume
    rollbacks interrupted by a process death."""
    if _running is None:
        return
    _running.health.heartbeat.beat()
    try:
        for outcome in _running.rollouts.advance_due():
            log.info("advanced %s: %s", outcome.view.flag_key, words(outcome.event))
        _running.rollouts.deliver_pending()
        # A rollback whose process died mid-runbook (its lease ran out) continues here.
        for report in _running.rollback.resume_interrupted():
            log.warning("interrupted rollback of %s resumed", report.flag_key)
    except Exception:
        # A failing tick must not kill the scheduler; the next tick tries again.
        _tick_failed("rollout tick")


def signoff_tick() -> None:
    """Open gates, send due sign-off asks / reminders / escalations, pause rollouts whose
    gate timed out, re-run due checklist probes and remind owners of post-migration tasks
    (each piece claimed once)."""
    if _running is None:
        return
    _running.health.heartbeat.beat()
    if _running.signoffs is None:
        return
    try:
        if _running.signoffs.enforced:
            _running.signoffs.requests.tick()
        _running.signoffs.checklists.run_due_probes()
        _running.signoffs.follow_through.remind_due()
    except Exception:
        # A failing tick must not kill the scheduler; the next tick tries again.
        _tick_failed("sign-off tick")


def metrics_tick() -> None:
    """Evaluate every active rollout's triggers and criteria; roll back those that fire."""
    # The job persists in the store: after `metrics.provider: none` it may still fire once.
    if _running is None:
        return
    _running.health.heartbeat.beat()
    if not _running.watcher.enabled:
        return
    try:
        for report in _running.watcher.evaluate():
            log.warning("automatic rollback of %s started", report.flag_key)
    except Exception:
        _tick_failed("metrics tick")


def incident_tick() -> None:
    """Publish due status updates (and retries), page, nudge, remind about post-mortems."""
    if _running is None:
        return
    _running.health.heartbeat.beat()
    try:
        _running.incidents.run_due()
    except Exception:
        _tick_failed("incident tick")


def digest_tick() -> None:
    """Post digests whose slot is due (each slot once) and retry those not delivered."""
    if _running is None or _running.digests is None:
        return
    try:
        for posted in _running.digests.run_due():
            log.info("digest %s posted for %s", posted.digest, posted.slot_at.isoformat())
    except Exception:
        log.exception("digest tick failed")


def prune_requests() -> None:
    """Forget handled requests older than the ledger keeps (in batches, each its own short
    transaction; replicas pruning at once only delete the same old rows)."""
    if _running is None:
        return
    try:
        forgotten = _running.requests.prune()
        if forgotten:
            log.info("request ledger: forgot %d handled request(s) older than a day", forgotten)
    except Exception:
        log.exception("request ledger pruning failed")


def _every(
    scheduler: BackgroundScheduler, function: str, job_id: str, seconds: int, grace: int
) -> None:
    """Run `bot.scheduler:<function>` every `seconds`; a missed run is run once, late."""
    scheduler.add_job(
        f"bot.scheduler:{function}",
        "interval",
        id=job_id,
        replace_existing=True,
        seconds=seconds,
        # Every replica fires at the same instants (multiples of `seconds` since the epoch):
        # a metrics evaluation is counted once per instant (MetricsWatcher.slot).
        start_date=EPOCH,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=grace,
    )


class _SubmitAfterShutdown(logging.Filter):
    """Drops APScheduler's "Error submitting job" when the executor was already shut down.

    APScheduler's shutdown races its own thread: a round of due jobs that began just before
    `shutdown` submits to the thread pool shutdown has closed, and logs the RuntimeError with
    a traceback. Nothing is lost (the tick is simply not run; due work is claimed from
    rollbot's tables by the next process), so a clean stop must not print a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (
            str(record.msg).startswith("Error submitting job")
            and isinstance(error, RuntimeError)
            and "after shutdown" in str(error)
        )


_SUBMIT_AFTER_SHUTDOWN = _SubmitAfterShutdown()


def start_scheduler(rollbot: Rollbot) -> BackgroundScheduler:
    """Start the background scheduler for this rollbot (jobs persisted in its database)."""
    # APScheduler logs every run of every job at INFO (a line every few seconds); what an
    # operator needs (a tick failed, a rollback started) rollbot logs itself.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_SUBMIT_AFTER_SHUTDOWN)  # idempotent
    global _running
    _running = rollbot
    scheduler = BackgroundScheduler(jobstores={"default": rollbot.job_store()}, timezone="UTC")
    config = rollbot.settings.config
    _every(scheduler, "rollout_tick", ROLLOUT_TICK, config.scheduler.tick_seconds, grace=60)
    _every(scheduler, "signoff_tick", SIGNOFF_TICK, config.scheduler.tick_seconds, grace=60)
    intervals = [config.scheduler.tick_seconds, config.incidents.tick_seconds]
    if rollbot.watcher.enabled:
        _every(scheduler, "metrics_tick", METRICS_TICK, config.metrics.evaluation_seconds, grace=30)
        intervals.append(config.metrics.evaluation_seconds)
    _every(scheduler, "incident_tick", INCIDENT_TICK, config.incidents.tick_seconds, grace=30)
    # Cron slots are computed by the digest service (CronTrigger) against its own table;
    # this job only wakes it up, so a slot missed while down is still found.
    _every(scheduler, "digest_tick", DIGEST_TICK, config.scheduler.tick_seconds, grace=60)
    _every(scheduler, "prune_requests", REQUESTS_PRUNE, PRUNE_SECONDS, grace=PRUNE_SECONDS)
    scheduler.start()
    # Every tick beats the heartbeat that `/healthz` reads (bot/services/health.py).
    rollbot.health.heartbeat.started(timedelta(seconds=max(intervals)))
    return scheduler


def stop_scheduler(scheduler: BackgroundScheduler) -> None:
    """Stop the scheduler, letting a running tick finish."""
    global _running
    if _running is not None:
        _running.health.heartbeat.stopped()
    scheduler.shutdown(wait=True)
    _running = None
