"""The persisted evaluation job: registered at the configured interval when a metrics provider
is configured, absent otherwise, and running the watcher when it fires."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import scheduler
from bot.clock import ManualClock
from bot.domain.actor import Actor, Via
from bot.domain.rollout import RolloutState
from bot.wording import waiting_line
from tests.fakes.metrics import FakeMetrics
from tests.rollback_support import ERRORS, FLAG, build_rollbot
from tests.scheduler_support import running_scheduler

HTTP_JSON = "metrics:\n  provider: http_json\n  url: http://127.0.0.1:9/\n  evaluation_seconds: 7\n"


def test_the_job_is_registered_at_the_configured_interval(tmp_path: Path) -> None:
    rb = build_rollbot(
        tmp_path, f"sqlite:///{tmp_path}/r.db", ManualClock(), None, metrics_yaml=HTTP_JSON
    )
    try:
        with running_scheduler(rb) as sched:
            job = sched.get_job(scheduler.METRICS_TICK)
            assert job is not None and job.trigger.interval == timedelta(seconds=7)
            assert job.func_ref == "bot.scheduler:metrics_tick"  # persisted by reference
    finally:
        rb.db.dispose()


def test_no_job_without_a_metrics_provider(tmp_path: Path) -> None:
    rb = build_rollbot(tmp_path, f"sqlite:///{tmp_path}/r.db", ManualClock(), None)
    try:
        with running_scheduler(rb) as sched:
            assert sched.get_job(scheduler.METRICS_TICK) is None
            assert sched.get_job(scheduler.ROLLOUT_TICK) is not None
    finally:
        rb.db.dispose()


def test_the_job_evaluates_and_rolls_back(tmp_path: Path) -> None:
    metrics = FakeMetrics()
    clock = ManualClock()
    rb = build_rollbot(tmp_path, f"sqlite:///{tmp_path}/r.db", clock, metrics)
    rb.rollouts.start(FLAG, None, Actor("U1", Via.SLACK))
    metrics.set(ERRORS, 0.5)
    scheduler._running = rb
    try:
        for _ in range(2):
            clock.advance(timedelta(seconds=15))
            scheduler.metrics_tick()
        assert rb.rollouts.status(FLAG).state is RolloutState.ROLLED_BACK
    finally:
        scheduler._running = None
        rb.db.dispose()


def test_under_the_scheduler_a_runbook_runs_on_its_own_thread(tmp_path: Path) -> None:
    """The evaluation returns as soon as the rollback is claimed; the runbook (flag off first)
    finishes on its own thread, so other rollouts keep being watched meanwhile.

    Built as `rollbot serve` builds it for its scheduler (`runbooks_in_threads`), with the
    evaluations driven here: a live scheduler would evaluate too, on the wall clock's 15 s
    boundaries, and one landing mid-test would claim the rollback first, or count one more
    reading so that the trigger fires an evaluation early."""
    metrics = FakeMetrics()
    clock = ManualClock()
    rb = build_rollbot(
        tmp_path, f"sqlite:///{tmp_path}/r.db", clock, metrics, runbooks_in_threads=True
    )
    try:
        assert rb.rollback.spawn is not None
        rb.rollouts.start(FLAG, None, Actor("U1", Via.SLACK))
        metrics.set(ERRORS, 0.5)
        clock.advance(timedelta(seconds=15))
        assert rb.watcher.evaluate() == []
        clock.advance(timedelta(seconds=15))
        (started,) = rb.watcher.evaluate()
        assert started.automatic and not started.finished
        deadline = time.monotonic() + 10
        while "Rolled back automatically" not in waiting_line(rb.rollouts.status(FLAG)):
            assert time.monotonic() < deadline, waiting_line(rb.rollouts.status(FLAG))
            time.sleep(0.05)
        doc = rb.flags.get(FLAG)
        assert doc is not None and not doc.enabled
    finally:
        rb.db.dispose()


def test_a_round_of_jobs_caught_by_shutdown_logs_no_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # APScheduler's thread can begin a round of due jobs just before shutdown closes the
    # executors; the round then submits to a closed pool. Run such a round by hand after
    # the stop (the race's outcome, made deterministic): a clean stop prints no traceback.
    rb = build_rollbot(tmp_path, f"sqlite:///{tmp_path}/r.db", ManualClock(), None)
    sched = scheduler.start_scheduler(rb)
    scheduler.stop_scheduler(sched)
    try:
        store = sched._lookup_jobstore("default")
        jobs = store.get_all_jobs()
        for job in jobs:
            job.next_run_time = datetime.now(UTC) - timedelta(seconds=1)  # due now
            store.update_job(job)
        with caplog.at_level(logging.WARNING, logger="apscheduler"):
            sched._process_jobs()
        assert jobs, "no job was due: the round proved nothing"
        assert [r.getMessage() for r in caplog.records if r.exc_info] == []
        # Other submit errors still show.
        logging.getLogger("apscheduler.scheduler").error("Error submitting job x", exc_info=True)
        assert "Error submitting job x" in caplog.text
    finally:
        rb.db.dispose()
