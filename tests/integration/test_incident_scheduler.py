"""The scheduler drives incidents: its job publishes what is due, and a publication that
was claimed by a process that then died is taken over once its lease runs out."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot import scheduler
from bot.clock import ManualClock
from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.domain.incident import Severity
from bot.services.chat import ChatPorts
from bot.services.incidents.status_updates import LEASE
from bot.store import incidents as store
from tests.conftest import Providers
from tests.fakes.incidents import FakeStatusPage, RecordingChat
from tests.scheduler_support import running_scheduler

ALICE = Actor("U0ALICE", Via.SLACK)


@pytest.fixture
def chat_ports() -> ChatPorts:
    """The `rollbot` fixture's chat records what incidents say."""
    return replace(ChatPorts.none(), incidents=RecordingChat())


@pytest.fixture
def providers(status_page: FakeStatusPage) -> Providers:
    """The fake is the only status page."""
    return Providers(status_pages=[status_page])


def test_the_incident_job_is_scheduled_and_publishes_what_is_due(
    rollbot: Rollbot, clock: ManualClock, status_page: FakeStatusPage
) -> None:
    page = status_page
    rollbot.incidents.declare(Severity.SEV2, "Checkout errors", ALICE)
    with running_scheduler(rollbot) as running:
        job = running.get_job(scheduler.INCIDENT_TICK)
        assert job is not None
        assert job.trigger.interval == timedelta(seconds=5)
        clock.advance(timedelta(minutes=4))
        scheduler.incident_tick()  # what the job runs, without waiting for it
        assert len(page.published) == 1


def test_a_claim_left_by_a_dead_process_is_taken_over_after_its_lease(
    rollbot: Rollbot, clock: ManualClock, status_page: FakeStatusPage
) -> None:
    page = status_page
    incident_id = rollbot.incidents.declare(Severity.SEV2, "Checkout errors", ALICE).view.id
    clock.advance(timedelta(minutes=4))
    with rollbot.db.session() as s:
        [draft] = store.updates_of(s, incident_id)
        assert draft.id is not None
        # Another process claims it and dies before publishing.
        assert store.claim_update(s, draft.id, clock.now(), LEASE, False) is not None
    rollbot.incidents.run_due()
    assert page.published == []  # still leased to the dead process
    clock.advance(LEASE)
    rollbot.incidents.run_due()
    assert len(page.published) == 1
    rollbot.incidents.run_due()
    assert len(page.published) == 1


def test_job_runs_are_not_logged_at_info(
    rollbot: Rollbot, caplog: pytest.LogCaptureFixture
) -> None:
    """An operator's log shows what happened, not a line per job run every few seconds."""
    caplog.set_level(logging.INFO)
    with running_scheduler(rollbot) as running:
        job = running.get_job(scheduler.INCIDENT_TICK)
        assert job is not None
        job.modify(next_run_time=datetime.now(UTC))  # run it now
        time.sleep(1.0)
    noisy = [r for r in caplog.records if r.name.startswith("apscheduler") and r.levelno < 30]
    assert noisy == []
