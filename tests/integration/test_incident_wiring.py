"""The features wired together as `build()` does: an automatic rollback declares an incident
with the runbook on its timeline, and the first status update of an incident reaches the
configured (builtin) status page by its deadline without anyone pressing Publish."""

from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from bot.clock import ManualClock
from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.domain.incident import Severity
from bot.slack.mrkdwn import mrkdwn
from bot.store import incidents as incidents_store
from bot.web.app import create_app
from tests.fakes.metrics import FakeMetrics
from tests.rollback_support import ERRORS, FLAG, LATENCY, SUCCESS

ALICE = Actor("U_ALICE", Via.SLACK)
TICK = timedelta(seconds=15)


def timeline_texts(bot: Rollbot, incident_id: int) -> list[str]:
    """The timeline's entries as Slack shows them."""
    with bot.db.session() as s:
        return [mrkdwn(e.message) for e in incidents_store.timeline(s, incident_id)]


def test_an_automatic_rollback_declares_an_incident_with_its_steps_on_the_timeline(
    bot: Rollbot, clock: ManualClock, metrics: FakeMetrics
) -> None:
    metrics.set(ERRORS, 0.001)
    metrics.set(LATENCY, 0.1)
    metrics.set(SUCCESS, 0.999)
    bot.rollouts.start(FLAG, None, ALICE)
    metrics.set(ERRORS, 0.2)
    reports = []
    for _ in range(3):
        clock.advance(TICK)
        reports += bot.watcher.evaluate()
    (report,) = reports
    assert report.automatic and report.finished and not report.failed

    (incident,) = [i for i in bot.incidents.incidents() if i.active]
    assert incident.title == f"Automatic rollback of {FLAG}"
    assert incident.rollout_id == report.rollout_id
    texts = "\n".join(timeline_texts(bot, incident.id))
    assert "error-rate" in texts  # why: the trigger that fired
    for step in report.steps:
        assert f"Rollback step *{step.name}*" in texts
    assert f"Rollback of `{FLAG}` finished" in texts


def test_a_manual_rollback_declares_nothing(bot: Rollbot, metrics: FakeMetrics) -> None:
    bot.rollouts.start(FLAG, None, ALICE)
    bot.rollback.roll_back(FLAG, ALICE, "customer reports")
    assert [i for i in bot.incidents.incidents() if i.active] == []


def test_the_first_update_reaches_the_builtin_status_page_by_itself(
    bot: Rollbot, clock: ManualClock
) -> None:
    web = TestClient(create_app(bot))
    bot.incidents.declare(Severity.SEV2, "Checkout errors", ALICE, components=["API"])
    assert web.get("/status.json").json()["incidents"] == []  # a draft, not yet public
    clock.advance(timedelta(minutes=4, seconds=1))
    bot.incidents.run_due()
    (public,) = web.get("/status.json").json()["incidents"]
    assert public["title"] == "Checkout errors"
    assert public["status"] == "investigating"


def test_an_automatic_rollback_heard_only_at_its_finish_still_gets_an_incident(
    bot: Rollbot, clock: ManualClock
) -> None:
    """A rollback resumed after a restart reports only its finish; the incident is still
    declared, with the steps on its timeline."""
    from bot.providers.runbook.base import StepResult
    from bot.services.incidents.rollback_link import RollbackIncidents
    from bot.services.rollback.report import RollbackReport

    started = bot.rollouts.start(FLAG, None, ALICE)
    report = RollbackReport(
        rollback_id=1,
        rollout_id=started.view.id,
        flag_key=FLAG,
        automatic=True,
        actor_id="rollbot",
        reason="error-rate > 0.01",
        started_at=clock.now(),
        steps=[StepResult("Disable the flag", "flag", True, 1, 0.1)],
        finished=True,
        finished_at=clock.now(),
    )
    RollbackIncidents(bot.incidents)(report)
    (incident,) = [i for i in bot.incidents.incidents() if i.active]
    texts = "\n".join(timeline_texts(bot, incident.id))
    assert "Rollback step *Disable the flag* (flag) ok" in texts
    assert f"Rollback of `{FLAG}` finished" in texts
