"""rollbot's scheduler started for one block of a test, and stopped however the block ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from apscheduler.schedulers.background import BackgroundScheduler

from bot import scheduler
from bot.container import Rollbot


@contextmanager
def running_scheduler(rollbot: Rollbot) -> Iterator[BackgroundScheduler]:
    """`rollbot serve`'s scheduler with its jobs registered, running until the block ends."""
    sched = scheduler.start_scheduler(rollbot)
    try:
        yield sched
    finally:
        scheduler.stop_scheduler(sched)
