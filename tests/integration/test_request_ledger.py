"""The request ledger drops repeats, keeps a day and forgets the rest in batches, from the
scheduler's job too."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import scheduler
from bot.clock import ManualClock
from bot.container import Rollbot
from bot.services.requests import KEEP
from bot.store import requests
from tests.scheduler_support import running_scheduler


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
    with running_scheduler(rollbot) as sched:
        job = sched.get_job(scheduler.REQUESTS_PRUNE)
        assert job is not None and job.trigger.interval == timedelta(hours=1)
        assert job.func_ref == "bot.scheduler:prune_requests"  # persisted by reference


WORK = {"body": {"command": "/rollout", "text": "status x"}, "response_url": "https://r/1"}


def test_work_taken_with_its_request_is_held_then_done(
    rollbot: Rollbot, clock: ManualClock
) -> None:
    ledger = rollbot.requests
    queued = ledger.take("slack:A", "/rollout", WORK, hold=True)
    assert queued is not None and (queued.listener, queued.payload, queued.runs) == (
        "/rollout",
        WORK,
        1,
    )
    assert ledger.take("slack:A", "/rollout", WORK, hold=True) is None  # a repeat
    assert not ledger.first_time("slack:A")  # one ledger: the key is taken either way
    assert ledger.waiting() == 1
    # Held by its taker for the lease: nobody else may claim it meanwhile.
    assert ledger.claim_waiting(10).runnable == []
    ledger.finish(["slack:A"])
    assert ledger.waiting() == 0
    clock.advance(ledger.lease * 2)
    assert ledger.claim_waiting(10).runnable == []  # done is done


def test_abandoned_work_is_claimed_by_one_claimer_counting_its_runs(
    rollbot: Rollbot, clock: ManualClock
) -> None:
    ledger = rollbot.requests
    assert ledger.take("slack:A", "/rollout", WORK, hold=True) is not None
    assert ledger.take("slack:B", "/rollout", WORK, hold=False) is not None  # for whoever has room
    assert ledger.take("slack:C", "/rollout", WORK, hold=True) is not None
    clock.advance(timedelta(seconds=1))
    # B waits for room at once; A and C are held until their lease runs out.
    assert [q.key for q in ledger.claim_waiting(10).runnable] == ["slack:B"]
    ledger.renew(["slack:C"])  # C's holder is alive
    clock.advance(ledger.lease - timedelta(seconds=0.5))
    claimed = ledger.claim_waiting(10, exclude=["slack:B"])
    assert [(q.key, q.runs) for q in claimed.runnable] == [("slack:A", 2)]
    assert ledger.claim_waiting(10, exclude=["slack:B"]).runnable == []  # claimed once
    ledger.release(["slack:C"])  # its holder stops before running it: at once for the next
    assert [q.key for q in ledger.claim_waiting(10).runnable] == ["slack:C"]


def test_work_too_old_or_run_too_often_is_given_up_on(rollbot: Rollbot, clock: ManualClock) -> None:
    ledger = rollbot.requests
    assert ledger.take("slack:old", "/rollout", WORK, hold=True) is not None
    assert ledger.take("slack:tired", "/rollout", WORK, hold=True) is not None
    clock.advance(ledger.lease + timedelta(seconds=1))
    claimed = ledger.claim_waiting(10, exclude=["slack:old"])
    assert [(q.key, q.runs) for q in claimed.runnable] == [("slack:tired", 2)]
    clock.advance(ledger.lease + timedelta(seconds=1))  # its second runner died too
    claimed = ledger.claim_waiting(10, exclude=["slack:old"])
    assert claimed.runnable == [] and [q.key for q in claimed.exhausted] == ["slack:tired"]
    clock.advance(ledger.max_age)
    claimed = ledger.claim_waiting(10)
    assert claimed.runnable == [] and [q.key for q in claimed.expired] == ["slack:old"]
    assert ledger.waiting() == 0
    assert ledger.take("slack:old", "/rollout", WORK, hold=True) is None  # still a repeat


def test_the_done_mark_commits_with_the_works_first_write(rollbot: Rollbot) -> None:
    ledger = rollbot.requests
    assert ledger.take("slack:A", "/rollout", WORK, hold=True) is not None
    with ledger.running("slack:A") as run:
        with rollbot.db.read() as s:  # reading is not the change: still pending
            assert requests.count(s) == 1
        assert not run.committed
        assert ledger.first_time("slack:other")  # the work's own write
        assert run.committed
        assert ledger.waiting() == 0  # done, in that same transaction
        assert ledger.first_time("slack:more")  # later writes carry nothing more
    assert ledger.waiting() == 0


def test_a_write_that_fails_takes_the_done_mark_down_with_it(rollbot: Rollbot) -> None:
    ledger = rollbot.requests
    assert ledger.take("slack:A", "/rollout", WORK, hold=True) is not None
    with ledger.running("slack:A") as run:
        with pytest.raises(RuntimeError), rollbot.db.session() as s:
            requests.remember(s, "slack:half", rollbot.clock.now())
            s.flush()
            raise RuntimeError("the change failed halfway")
        assert not run.committed
        assert ledger.waiting() == 1  # still to do: the caller finishes it
        assert ledger.first_time("slack:half")  # the half-done write was rolled back
        assert run.committed
    assert ledger.waiting() == 0
