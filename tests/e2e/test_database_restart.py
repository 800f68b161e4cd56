"""The database restarting under a running `rollbot serve`: a PostgreSQL of the test's own
is stopped mid-test and started again. Meanwhile rollbot keeps serving what it can: /healthz
says the database is down (503), commands get a plain "database unavailable, try again" and
no traceback; a step that came due while it was down advances once when it is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.fakes.slack_api import FakeSlack
from tests.own_postgres import OwnPostgres
from tests.plan_support import phase, plan_yaml, step
from tests.serve_support import Served, wait_until

# The first step's bake: long enough that the database is down before it passes, however
# slowly the start's answer and pg_ctl's stop come under load.
BAKE = 5.0
PLAN = plan_yaml(
    [
        phase(
            "beta",
            "Beta",
            [step("five", 5, f"{BAKE:.0f}s"), step("ten", 10, "1h"), step("all", 100)],
        )
    ]
)


@pytest.fixture
def postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    try:
        server.start()
        server.create_database()
        yield server
    finally:
        server.close()


def advanced(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_event WHERE action = 'rollout.advanced'"
        ).fetchone()
    return int(row[0]) if row else 0


def started_at(url: str) -> float:
    """When the rollout began its first step (epoch seconds)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM min(step_started_at)) FROM rollout"
        ).fetchone()
    assert row is not None and row[0] is not None
    return float(row[0])


def reply(fake: FakeSlack, served: Served, text: str) -> str:
    before = len(fake.calls_to("response_url"))
    started = time.monotonic()
    response = served.slack.command("/rollout", text, channel_id="C_RELEASES")
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 3.0  # acked in time, database or not
    return str(fake.wait_for("response_url", before + 1, timeout=10)[before].params["text"])


def test_rollbot_rides_out_a_database_restart(
    postgres: OwnPostgres, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "chat-v2.yaml").write_text(PLAN, encoding="utf-8")
    cfg = tmp_path / "rollbot.yaml"
    cfg.write_text(
        f"rollouts:\n  plans_dir: {plans}\n  default_plan: chat-v2\n"
        "slack:\n  rollout_channel: null\n"
        "signoff:\n  enforce_gates: false\n"
        "scheduler:\n  tick_seconds: 1\n",
        encoding="utf-8",
    )
    served = Served("serve", tmp_path, fake_slack, postgres.url, cfg)
    try:
        served.wait_ready()
        assert "Started" in reply(fake_slack, served, "start chat-v2")
        due = started_at(postgres.url) + BAKE

        postgres.stop()
        # The step must come due while the database is down: one that came due as it went
        # down would be advanced, and said, half by a dying connection.
        assert time.time() < due, f"the database went down {time.time() - due:.1f}s late"
        health = httpx.get(f"{served.base_url}/healthz", timeout=10)
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "error" and body["database"] == "unavailable", body
        answer = reply(fake_slack, served, "status chat-v2")
        assert "database is unavailable" in answer and "Try again" in answer, answer
        answer = reply(fake_slack, served, "pause chat-v2")
        assert "database is unavailable" in answer and "nothing was changed" in answer, answer
        time.sleep(max(0.0, due + 1.0 - time.time()))  # the bake passes, and a 1 s tick
        assert served.alive()

        postgres.start()
        wait_until(
            "/healthz ok again",
            lambda: httpx.get(f"{served.base_url}/healthz", timeout=10).status_code == 200,
            20,
        )
        wait_until("the step that came due", lambda: advanced(postgres.url) >= 1, 20)
        answer = reply(fake_slack, served, "status chat-v2")
        assert "10%" in answer, answer
        assert "paused" not in answer.lower(), answer  # the refused pause did not half-happen
        time.sleep(2.5)  # two more ticks: a second advance would show now
        assert advanced(postgres.url) == 1
        posts = [
            str(c.params.get("text"))
            for c in fake_slack.calls_to("chat.postMessage")
            if c.ok and "thread_ts" in c.params
        ]
        assert sum("advanced" in p.lower() for p in posts) == 1, posts
        output = served.output
        assert "Traceback" not in output, output
    finally:
        served.close()
