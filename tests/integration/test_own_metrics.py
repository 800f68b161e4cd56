"""rollbot's own metrics from the services: trigger evaluations, automatic and manual
rollbacks, the shell's commands and buttons; one registry per Rollbot while the gauges
agree across replicas; `/healthz` and the scheduler."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot import scheduler
from bot.clock import ManualClock
from bot.config.settings import Settings, load_settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.services.chat import ChatPorts
from bot.services.rollouts.notifier import CardLocation, ThreadText
from bot.services.rollouts.views import RolloutView
from bot.shell.chat import ShellChat
from bot.shell.repl import Shell
from bot.store.outbox import MAX_ATTEMPTS
from bot.web.app import create_app
from tests.conftest import NO_GATES, PLANS_DIR
from tests.fakes.metrics import FakeMetrics
from tests.own_metrics import value
from tests.rollback_support import ERRORS, FLAG, build_rollbot

ALICE = Actor("U_ALICE", Via.SLACK)
TICK = timedelta(seconds=15)


def scrape(rollbot: Rollbot) -> str:
    response = TestClient(create_app(rollbot)).get("/metrics")
    assert response.status_code == 200
    return response.text


def test_trigger_evaluations_and_rollbacks_are_counted(
    bot: Rollbot, clock: ManualClock, metrics: FakeMetrics, tmp_path: Path, database_url: str
) -> None:
    bot.rollouts.start(FLAG, None, ALICE)
    metrics.set(ERRORS, 0.02)  # above the 1% threshold; latency has no data (hold)
    for _ in range(2):
        bot.watcher.evaluate()  # the second breach in a row fires: automatic rollback
        clock.advance(TICK)
    page = scrape(bot)
    total = "rollbot_trigger_evaluations_total"
    assert value(page, total, trigger="error-rate", result="bad") == 2
    assert value(page, total, trigger="latency", result="hold") == 2
    assert value(page, total, trigger="error-rate", result="good") is None
    assert value(page, "rollbot_rollbacks_total", cause="automatic", outcome="succeeded") == 1
    assert value(page, "rollbot_rollouts_active") == 0

    # A second rollout, rolled back by hand.
    bot.rollouts.start(FLAG, None, ALICE)
    bot.rollouts.advance(FLAG, ALICE)
    metrics.set(ERRORS, 0.001)
    bot.watcher.evaluate()
    page = scrape(bot)
    assert value(page, total, trigger="error-rate", result="good") == 1
    assert value(page, "rollbot_rollouts_active") == 1
    assert value(page, "rollbot_rollout_percentage", flag=FLAG) == 25
    bot.rollback.roll_back(FLAG, ALICE, "latency is up")
    page = scrape(bot)
    assert value(page, "rollbot_rollbacks_total", cause="manual", outcome="succeeded") == 1
    assert value(page, "rollbot_rollbacks_total", cause="automatic", outcome="succeeded") == 1

    # Another replica on the same database: its own counters (nothing counted yet), the
    # same gauges.
    bot.rollouts.start(FLAG, None, ALICE)
    replica = build_rollbot(tmp_path / "replica", database_url, clock, metrics)
    try:
        other = scrape(replica)
        assert value(other, "rollbot_rollbacks_total", cause="manual", outcome="succeeded") is None
        assert value(other, total, trigger="error-rate", result="bad") is None
        assert value(other, "rollbot_rollouts_active") == 1
        assert value(other, "rollbot_rollout_percentage", flag=FLAG) == 5
    finally:
        replica.db.dispose()


def test_a_failed_rollback_is_counted_as_failed(
    tmp_path: Path, clock: ManualClock, metrics: FakeMetrics
) -> None:
    failing = (
        "name: chat-v2\ntitle: Chat v2\nflag: chat-v2\nphases:\n  - id: beta\n    name: Beta\n"
        "    steps:\n      - {name: five, percentage: 5, bake: 1h}\n"
        "      - {name: all, percentage: 100}\n"
        "runbook:\n  - {name: Drain, kind: command, run: 'exit 3', timeout: 5s}\n"
    )
    bot = build_rollbot(tmp_path, f"sqlite:///{tmp_path}/r.db", clock, metrics, plan=failing)
    try:
        bot.rollouts.start(FLAG, None, ALICE)
        report = bot.rollback.roll_back(FLAG, ALICE, "drain it")
        assert report.failed
        page = scrape(bot)
        assert value(page, "rollbot_rollbacks_total", cause="manual", outcome="failed") == 1
        assert value(page, "rollbot_rollbacks_total", cause="manual", outcome="succeeded") is None
    finally:
        bot.db.dispose()


class SlackDown:
    """A rollout notifier whose thread messages never get through."""

    def show_card(self, view: RolloutView) -> CardLocation | None:
        return None

    def post_event(self, view: RolloutView, message: ThreadText) -> None:
        raise RuntimeError("channel_not_found")


def test_notifications_given_up_on_are_a_series_of_the_outbox_depth(
    tmp_path: Path, database_url: str, clock: ManualClock, metrics: FakeMetrics
) -> None:
    """A thread message that failed 12 times is no longer waiting, and nobody will see it:
    `rollbot_outbox_depth{state="given_up"}` counts it so an operator can."""

    def slack_down(_settings: Settings) -> ChatPorts:
        return replace(ChatPorts.none(), rollouts=SlackDown())

    bot = build_rollbot(tmp_path, database_url, clock, metrics, chat=slack_down)
    try:
        bot.rollouts.start(FLAG, None, ALICE)  # its thread message fails: attempt 1
        page = scrape(bot)
        assert value(page, "rollbot_outbox_depth", state="waiting") == 1
        assert value(page, "rollbot_outbox_depth", state="given_up") == 0
        for _ in range(MAX_ATTEMPTS - 2):
            clock.advance(timedelta(minutes=10))  # past the longest backoff
            assert bot.rollouts.deliver_pending() == 0
        page = scrape(bot)
        assert value(page, "rollbot_outbox_depth", state="waiting") == 1  # one attempt left
        assert value(page, "rollbot_outbox_depth", state="given_up") == 0
        clock.advance(timedelta(minutes=10))
        assert bot.rollouts.deliver_pending() == 0  # the twelfth attempt fails too
        page = scrape(bot)
        assert value(page, "rollbot_outbox_depth", state="waiting") == 0
        assert value(page, "rollbot_outbox_depth", state="given_up") == 1
        assert value(page, "rollbot_outbox_oldest_seconds") == 0  # nothing waits any more
        clock.advance(timedelta(minutes=10))
        assert bot.rollouts.deliver_pending() == 0  # and it is not tried again
        assert value(scrape(bot), "rollbot_outbox_depth", state="given_up") == 1
    finally:
        bot.db.dispose()


def test_the_shell_counts_its_commands_and_buttons(tmp_path: Path, clock: ManualClock) -> None:
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {PLANS_DIR}\n  default_plan: realtime-features\n" + NO_GATES,
        encoding="utf-8",
    )
    settings = load_settings(env={"DATABASE_URL": f"sqlite:///{tmp_path}/r.db"}, config_path=config)
    chat = ShellChat(io.StringIO())
    bot = build(settings, clock=clock, chat=chat.ports)
    try:
        shell = Shell(bot, chat, io.StringIO(), user="alice")
        for line in (
            "/rollout start realtime-features",
            "/rollout advance nosuchflag",
            "press advance",
            "whoami",  # not a command: not counted
            "/incident frobnicate",
        ):
            shell.execute(line)
        page = scrape(bot)
        assert value(page, "rollbot_commands_total", command="/rollout", outcome="ok") == 1
        assert value(page, "rollbot_commands_total", command="/rollout", outcome="refused") == 1
        assert value(page, "rollbot_commands_total", command="button:advance", outcome="ok") == 1
        assert value(page, "rollbot_commands_total", command="/incident", outcome="refused") == 1
        # The shipped plan's staff step: 0% for everyone (the internal segment at 100%)
        assert value(page, "rollbot_rollout_percentage", flag="realtime-features") == 0
        flag = bot.flags.get("realtime-features")
        assert flag is not None and flag.segment_rollouts == {"internal": 100}
    finally:
        bot.db.dispose()


def test_healthz_reports_the_scheduler(bot: Rollbot, clock: ManualClock) -> None:
    client = TestClient(create_app(bot))
    # No scheduler started in this process: nothing to report about it.
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["scheduler"]["state"] == "not started"

    running = scheduler.start_scheduler(bot)
    try:
        response = client.get("/healthz")
        assert response.status_code == 200, response.json()
        assert response.json()["scheduler"]["state"] == "running"
        # Its jobs beat the heartbeat; long silence (here: the clock jumps) is a stall.
        stale = response.json()["scheduler"]["stale_after_seconds"]
        assert stale == 45  # three evaluation intervals of 15 s
        running.pause()  # no tick runs any more
        time.sleep(0.1)
        clock.advance(timedelta(seconds=stale + 1))
        response = client.get("/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "error"
        assert body["scheduler"]["state"] == "stalled"
        assert any("scheduler is stalled" in p for p in body["problems"])
        running.resume()
    finally:
        scheduler.stop_scheduler(running)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["scheduler"]["state"] == "stopped"
    assert body["problems"] == [body["problems"][0]]
    assert "the scheduler is stopped" in body["problems"][0]
    # The database still answers, and says so.
    assert body["database"] in ("sqlite", "postgresql")


def test_healthz_names_a_database_that_does_not_answer(
    bot: Rollbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    def refuse() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(bot.db, "ping", refuse)
    response = TestClient(create_app(bot)).get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error" and body["database"] == "unavailable"
    assert body["error"] == "OperationalError"
    assert body["problems"] == ["the database does not answer (OperationalError)"]
    assert "connection refused" not in response.text
