"""The request ledger drops repeats, keeps a day and forgets the rest in batches, from the
scheduler's job too."""

from __future__ import annotations

from datetime import timedelta

from bot import scheduler
from bot.clock import ManualClock
from bot.container import Rollbot
from bot.services.requests import KEEP


def test_a_repeat_is_refused_for_a_day_and_forgotten_after(
    rollbot: Rollbot, clock: ManualClock
) -> None:
    ledger = rollbot.requests
    assert ledger.first_time("slack:T1")
    assert not ledger.first_time("slack:T1")  # a Slack retry, minutes later
    clock.advance(KEEP - timedelta(minutes=1))
    assert ledger.prune() == 0
    assert not ledger.first_time("slack:T1")  # still remembered just short of a day
    clock.advance(timedelta(minutes=2))
    assert ledger.first_time("slack:T2")
    assert ledger.prune() == 1  # T1 is more than a day old; T2 is kept
    assert ledger.size() == 1
    assert ledger.first_time("slack:T1")  # forgotten: a key seen again a day later is new


def test_pruning_goes_in_batches_and_the_scheduler_job_runs_it(
    rollbot: Rollbot, clock: ManualClock
) -> None:
    ledger = rollbot.requests
    for i in range(25):
        assert ledger.first_time(f"slack:old-{i}")
    clock.advance(KEEP + timedelta(seconds=1))
    for i in range(5):
        assert ledger.first_time(f"slack:new-{i}")
    assert ledger.prune(batch=10) == 25  # three transactions of at most 10
    assert ledger.size() == 5

    for i in range(7):
        assert ledger.first_time(f"slack:later-{i}")
    clock.advance(KEEP + timedelta(seconds=1))
    scheduler._running = rollbot  # what start_scheduler sets; the job reads it
    try:
        scheduler.prune_requests()
    finally:
        scheduler._running = None
    assert ledger.size() == 0


def test_the_pruning_job_is_registered_hourly(rollbot: Rollbot) -> None:
    sched = scheduler.start_scheduler(rollbot)
    try:
        job = sched.get_job(scheduler.REQUESTS_PRUNE)
        assert job is not None and job.trigger.interval == timedelta(hours=1)
        assert job.func_ref == "bot.scheduler:prune_requests"  # persisted by reference
    finally:
        scheduler.stop_scheduler(sched)
