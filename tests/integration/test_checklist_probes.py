"""Checklist probes run by the scheduler's tick on a real database: results recorded and
audited, each due probe run once, an owner's check winning, the gate held until they pass."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.config.settings import load_settings
from bot.container import Rollbot, build
from bot.domain.actions import Action
from bot.domain.actor import Actor, Via
from bot.domain.errors import InvalidTransition
from bot.services.chat import ChatPorts
from bot.services.signoff.ports import CheckButton, SignButton
from bot.slack.blocks import chat_text
from bot.store import audit
from bot.wording.signoff import metric_readings, open_checklists
from tests.fakes.metrics import FakeMetrics
from tests.integration.test_signoff_service import Recorder

FLAG = "probed"
PLAN = f"""
name: probed
title: Probed feature
flag: probed
phases:
  - id: one
    name: One
    steps:
      - {{name: Dark, percentage: 0, gate: ready}}
      - {{name: Everyone, percentage: 100}}
gates:
  - {{id: ready, roles: [ops], checklists: [infra]}}
checklists:
  - id: infra
    section: Pre-Migration Checklist
    title: Infrastructure Readiness
    items:
      - text: Flag file present
        owner: ops
        probe: {{command: "{sys.executable} SCRIPT", every: 10m}}
      - text: Error rate low
        owner: ops
        probe: {{metric: error_rate, max: 0.01}}
"""


@pytest.fixture
def rec() -> Recorder:
    """What signers are sent."""
    return Recorder()


@pytest.fixture
def metrics() -> FakeMetrics | None:
    """The metrics provider `bot` is built with (None: none configured)."""
    return FakeMetrics()


@pytest.fixture
def bot(
    tmp_path: Path,
    database_url: str,
    clock: ManualClock,
    rec: Recorder,
    metrics: FakeMetrics | None,
) -> Iterator[Rollbot]:
    plans = tmp_path / "plans"
    plans.mkdir()
    script = tmp_path / "check.py"
    marker = tmp_path / "marker"
    script.write_text(f"import os, sys\nsys.exit(0 if os.path.exists({str(marker)!r}) else 1)\n")
    (plans / "probed.yaml").write_text(PLAN.replace("SCRIPT", str(script)), encoding="utf-8")
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {plans}\n"
        "roles:\n  ops: {name: Operations Lead, members: [UOPS]}\n"
        "signoff:\n  enforce_gates: true\n",
        encoding="utf-8",
    )
    settings = load_settings(env={"DATABASE_URL": database_url}, config_path=config)
    rollbot = build(settings, clock, replace(ChatPorts.none(), signoffs=rec), metrics=metrics)
    try:
        yield rollbot
    finally:
        rollbot.db.dispose()


def notes(bot: Rollbot) -> str:
    """The notes of the rollout's card, as Slack shows them."""
    status = bot.rollouts.status(FLAG)
    return "\n".join(chat_text(n) for n in status.notes)


def probed(bot: Rollbot) -> list[tuple[str, str]]:
    with bot.db.session() as s:
        return [
            (e.after["status"] if e.after else "", e.detail or "")
            for e in audit.events(s, subject_id=FLAG, action="checklist.probed")
        ]


def test_probes_hold_the_gate_until_they_pass(
    bot: Rollbot, clock: ManualClock, tmp_path: Path, rec: Recorder, metrics: FakeMetrics
) -> None:
    assert bot.signoffs is not None
    metrics.set("error_rate", 0.5)
    checklists = bot.signoffs.checklists
    owner = Actor("UOPS", Via.SLACK)
    start = bot.rollouts.start(FLAG, None, Actor("UREQ", Via.SLACK), "C1")
    ((user, ask),) = rec.asks
    assert user == "UOPS" and metric_readings(ask.metrics) == "• Error rate low: not measured yet"
    assert "Flag file present (Operations Lead)" in open_checklists(ask.checklists)
    button = next(b for b in start.view.buttons if b.action is Action.APPROVE)
    sign = SignButton.loads(button.value)
    assert sign is not None
    bot.signoffs.service.approve(sign, owner)

    assert checklists.run_due_probes() == 2
    assert [status for status, _ in probed(bot)] == ["failing", "failing"]
    assert any("`error_rate` = 0.5, above the maximum 0.01" in d for _, d in probed(bot))
    assert "probe: `error_rate` = 0.5, above the maximum 0.01" in notes(bot)
    assert checklists.run_due_probes() == 0  # not due again yet
    with pytest.raises(InvalidTransition) as held:
        bot.rollouts.advance(FLAG, owner)
    assert "Flag file present" in held.value.message and "Error rate low" in held.value.message

    (tmp_path / "marker").write_text("x")
    metrics.set("error_rate", 0.001)
    clock.advance(timedelta(minutes=10))
    assert checklists.run_due_probes() == 2
    assert [status for status, _ in probed(bot)][-2:] == ["done", "done"]

    # An owner's check wins over the probe from then on.
    metrics.set("error_rate", 0.5)
    view, _ = checklists.items(FLAG)
    assert checklists.check(CheckButton(view.id, "infra", 1), owner).changed
    clock.advance(timedelta(minutes=10))
    assert checklists.run_due_probes() == 1  # only the command probe is still run
    assert bot.rollouts.advance(FLAG, owner).view.percentage == 100


@pytest.mark.parametrize("metrics", [None])
def test_a_metric_probe_without_a_metrics_provider_fails_saying_so(bot: Rollbot) -> None:
    assert bot.signoffs is not None
    bot.rollouts.start(FLAG, None, Actor("UREQ", Via.SLACK))
    assert bot.signoffs.checklists.run_due_probes() == 2
    assert [status for status, _ in probed(bot)] == ["failing", "failing"]
    assert any("no metrics provider configured" in d for _, d in probed(bot))
    assert "probe: no metrics provider configured" in notes(bot)


def test_metric_probes_ask_the_configured_metrics_provider(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    """With `metrics:` configured, a checklist's metric probe is measured by that provider
    (here http_json, served over real HTTP), with no wiring by hand."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    values = {"error_rate": 0.5}

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(values).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "probed.yaml").write_text(PLAN.replace("SCRIPT", "-c pass"), encoding="utf-8")
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {plans}\n"
        "roles:\n  ops: {name: Operations Lead, members: [UOPS]}\n"
        "signoff:\n  enforce_gates: true\n"
        "metrics:\n  provider: http_json\n"
        f"  url: http://127.0.0.1:{server.server_address[1]}/metrics.json\n",
        encoding="utf-8",
    )
    bot = build(load_settings(env={"DATABASE_URL": database_url}, config_path=config), clock)
    try:
        assert bot.signoffs is not None
        bot.rollouts.start(FLAG, None, Actor("UOWNER", Via.SLACK))
        bot.signoffs.checklists.run_due_probes()
        assert "`error_rate` = 0.5, above the maximum 0.01" in "\n".join(d for _, d in probed(bot))
        values["error_rate"] = 0.001
        clock.advance(timedelta(minutes=10))
        bot.signoffs.checklists.run_due_probes()
        assert ("done", "`error_rate` = 0.001, within bounds") in probed(bot)
    finally:
        bot.db.dispose()
        server.shutdown()


def test_a_metric_probe_with_provider_sql_reads_its_database(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    """A probe naming `provider: sql` runs its query against the config's database while
    another probe of the plan uses the default provider (none here: it says so)."""
    import sqlite3

    app = tmp_path / "app.db"
    with sqlite3.connect(app) as conn:
        conn.execute("CREATE TABLE backups (finished_at TEXT)")
    plans = tmp_path / "plans"
    plans.mkdir()
    sql_probe = (
        'probe: {metric: "SELECT COUNT(*) FROM backups", provider: sql, database: app, min: 1}'
    )
    plan = PLAN.replace("SCRIPT", "-c pass").replace(
        "probe: {metric: error_rate, max: 0.01}",
        "probe: {metric: error_rate, max: 0.01}\n"
        f"      - text: Backup systems ready\n        owner: ops\n        {sql_probe}",
    )
    (plans / "probed.yaml").write_text(plan, encoding="utf-8")
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {plans}\n"
        "roles:\n  ops: {name: Operations Lead, members: [UOPS]}\n"
        "signoff:\n  enforce_gates: true\n"
        "databases:\n  app:\n    url_env: APP_DATABASE_URL\n",
        encoding="utf-8",
    )
    env = {"DATABASE_URL": database_url, "APP_DATABASE_URL": f"sqlite:///{app}"}
    bot = build(load_settings(env=env, config_path=config), clock)
    try:
        assert bot.signoffs is not None
        bot.rollouts.start(FLAG, None, Actor("UOWNER", Via.SLACK))
        bot.signoffs.checklists.run_due_probes()
        details = "\n".join(d for _, d in probed(bot))
        assert "`SELECT COUNT(*) FROM backups` = 0, below the minimum 1" in details
        assert "the default metrics provider is not configured" in details
        with sqlite3.connect(app) as conn:
            conn.execute("INSERT INTO backups VALUES ('2026-11-02')")
        clock.advance(timedelta(minutes=10))
        bot.signoffs.checklists.run_due_probes()
        assert ("done", "`SELECT COUNT(*) FROM backups` = 1, within bounds") in probed(bot)
    finally:
        bot.db.dispose()
