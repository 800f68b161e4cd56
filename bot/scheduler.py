"""Scheduled work: APScheduler wakes the process up; rollbot's own tables say what is due.

The jobs live in APScheduler's SQLAlchemy job store (in rollbot's database), so they survive
a restart. Two replicas would both run them (APScheduler does not coordinate stores), which is
why a job only *looks for* due work: each piece is claimed with a row lock in the services,
so it runs once.
"""

from __future__ import annotations

import logging

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bot.container import Rollbot
from bot.store.database import normalize_url

log = logging.getLogger(__name__)

_running: Rollbot | None = None

ROLLOUT_TICK = "rollout-tick"
SIGNOFF_TICK = "signoff-tick"
METRICS_TICK = "metrics-tick"
INCIDENT_TICK = "incident-tick"
REQUESTS_PRUNE = "request-ledger-prune"
# The request ledger keeps a day; forgetting the older ones hourly keeps it at about a day.
PRUNE_SECONDS = 3600


def rollout_tick() -> None:
    """Advance rollouts whose bake time passed, retry undelivered notifications, and resume
    rollbacks interrupted by a process death."""
    if _running is None:
        return
    try:
        for outcome in _running.rollouts.advance_due():
            log.info("advanced %s: %s", outcome.view.flag_key, outcome.event)
        _running.rollouts.deliver_pending()
        # A rollback whose process died mid-runbook (its lease ran out) continues here.
        for report in _running.rollback.resume_interrupted():
            log.warning("interrupted rollback of %s resumed", report.flag_key)
    except Exception:
        # A failing tick must not kill the scheduler; the next tick tries again.
        log.exception("rollout tick failed")


def signoff_tick() -> None:
    """Open gates, send due sign-off asks / reminders / escalations, pause rollouts whose
    gate timed out, and re-run due checklist probes (each piece claimed once)."""
    if _running is None or _running.signoffs is None:
        return
    try:
        if _running.signoffs.enforced:
            _running.signoffs.requests.tick()
        _running.signoffs.checklists.run_due_probes()
    except Exception:
        # A failing tick must not kill the scheduler; the next tick tries again.
        log.exception("sign-off tick failed")


def metrics_tick() -> None:
    """Evaluate every active rollout's triggers and criteria; roll back those that fire."""
    # The job persists in the store: after `metrics.provider: none` it may still fire once.
    if _running is None or not _running.watcher.enabled:
        return
    try:
        for report in _running.watcher.evaluate():
            log.warning("automatic rollback of %s started", report.flag_key)
    except Exception:
        log.exception("metrics tick failed")


def incident_tick() -> None:
    """Publish due status updates (and retries), page, nudge, remind about post-mortems."""
    if _running is None:
        return
    try:
        _running.incidents.run_due()
    except Exception:
        log.exception("incident tick failed")


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
        coalesce=True,
        max_instances=1,
        misfire_grace_time=grace,
    )


def start_scheduler(rollbot: Rollbot) -> BackgroundScheduler:
    """Start the background scheduler for this rollbot (jobs persisted in its database)."""
    # APScheduler logs every run of every job at INFO (a line every few seconds); what an
    # operator needs (a tick failed, a rollback started) rollbot logs itself.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").setLevel(logging.WARNING)
    global _running
    _running = rollbot
    store = SQLAlchemyJobStore(
        url=normalize_url(rollbot.settings.database_url), tablename="apscheduler_jobs"
    )
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
    config = rollbot.settings.config
    _every(scheduler, "rollout_tick", ROLLOUT_TICK, config.scheduler.tick_seconds, grace=60)
    _every(scheduler, "signoff_tick", SIGNOFF_TICK, config.scheduler.tick_seconds, grace=60)
    if rollbot.watcher.enabled:
        _every(scheduler, "metrics_tick", METRICS_TICK, config.metrics.evaluation_seconds, grace=30)
    _every(scheduler, "incident_tick", INCIDENT_TICK, config.incidents.tick_seconds, grace=30)
    _every(scheduler, "prune_requests", REQUESTS_PRUNE, PRUNE_SECONDS, grace=PRUNE_SECONDS)
    scheduler.start()
    return scheduler


def stop_scheduler(scheduler: BackgroundScheduler) -> None:
    """Stop the scheduler, letting a running tick finish."""
    global _running
    scheduler.shutdown(wait=True)
    _running = None
