"""Two `rollbot serve` processes on one PostgreSQL act as one bot.

Both replicas run every scheduled job (APScheduler does not coordinate them); the database
decides who does each piece of due work. Against the fake Slack over HTTP, with one-second
ticks: every scheduled advance, sign-off reminder, status-page deadline and post-mortem
reminder happens once (in the audit table, the timeline and what Slack was sent), a trigger
rolls back once, and `kill -9` of the replica running the rollback's slow command hands it
to the other within a tick, the killed command dying with its replica.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bot.store.database import Database as StoreDatabase
from tests.fakes.slack_api import FakeSlack
from tests.plan_support import DISABLE_THE_FLAG, command_step, error_rate, phase, plan_yaml, step
from tests.serve_support import (
    Metrics,
    Served,
    parent_of,
    process_gone,
    wait_until,
)

FLAG = "chat-v2"
CHANNEL = "C_RELEASES"
PLAN = plan_yaml(
    [
        phase(
            "beta",
            "Beta",
            [
                step("five", 5, "1s"),
                step("ten", 10, "1s"),
                step("twenty", 20, "1s", gate="hold"),
                step("all", 100),
            ],
        )
    ],
    triggers=[error_rate()],
    runbook=[
        DISABLE_THE_FLAG,
        command_step(
            "Drain", """'echo $$ >> "$RUNS_FILE"; sleep 3; echo drained'""", timeout="30s"
        ),
        command_step("Deploy previous", "echo deployed"),
    ],
    rest="gates:\n  - id: hold\n    name: Hold at twenty\n    roles: [eng_lead]\n",
)


def config(plans: Path, metrics_port: int) -> str:
    return f"""
rollouts:
  plans_dir: {plans}
  default_plan: chat-v2
  advance_guard: 1s
slack:
  rollout_channel: null
scheduler:
  tick_seconds: 1
metrics:
  provider: http_json
  url: http://127.0.0.1:{metrics_port}/metrics.json
  evaluation_seconds: 1
signoff:
  enforce_gates: true
  remind_after: 2s
  remind_every: 2s
  escalate_after: null
roles:
  eng_lead:
    name: Engineering Lead
    members: [U_ENG]
incidents:
  tick_seconds: 1
  status_update_deadline: 3s
  auto_publish_after: 1s
  publish_retry_first: 1s
  publish_retry_max: 2s
  update_interval: 10m
  postmortem_reminders: [1s, 2s]
  postmortem_due: 3s
statuspage:
  providers:
    - type: webhook
      url: http://127.0.0.1:{metrics_port}/status
"""


class Database:
    """Reads the audit table and the incident timeline the replicas share."""

    def __init__(self, url: str) -> None:
        self.url = url

    def count(self, sql: str, *args: object) -> int:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(sql, args).fetchone()
        return int(row[0]) if row else 0

    def audited(self, action: str) -> int:
        return self.count("SELECT count(*) FROM audit_event WHERE action = %s", action)

    def timeline(self, kind: str) -> int:
        return self.count("SELECT count(*) FROM incident_event WHERE kind = %s", kind)


@pytest.fixture
def replicas(
    fake_slack: FakeSlack, tmp_path: Path, database_url: str
) -> Iterator[tuple[Served, Served, Metrics, Path]]:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "chat-v2.yaml").write_text(PLAN, encoding="utf-8")
    metrics = Metrics()
    cfg = tmp_path / "rollbot.yaml"
    cfg.write_text(config(plans, metrics.port), encoding="utf-8")
    runs = tmp_path / "runs.txt"
    runs.touch()
    fake_slack.add_user("U_ENG")
    # Migrate once first (the README's upgrade order), then start both at once.
    StoreDatabase(database_url).dispose()
    env = {"RUNS_FILE": str(runs)}
    a = Served("replica-a", tmp_path, fake_slack, database_url, cfg, env)
    b = Served("replica-b", tmp_path, fake_slack, database_url, cfg, env)
    try:
        a.wait_ready()
        b.wait_ready()
        yield a, b, metrics, runs
    finally:
        a.close()
        b.close()
        metrics.close()


def texts(fake: FakeSlack, channel: str | None = None) -> list[str]:
    """Every message text rollbot posted (in `channel`), oldest first."""
    return [
        str(c.params.get("text", ""))
        for c in fake.calls_to("chat.postMessage")
        if c.ok and (channel is None or c.params.get("channel") == channel)
    ]


def sent_reminders(fake: FakeSlack, db: Database, timeout: float = 10.0) -> tuple[int, list[str]]:
    """How many reminders the audit table counts, and the reminder DMs Slack got, read when
    the two agree. The gate keeps reminding every 2 s while the test reads: a reminder is
    audited when it is claimed and reaches Slack a moment later, so one read in between
    sees it in one count and not the other. A reminder sent twice, or audited and never
    sent, never agrees."""
    deadline = time.monotonic() + timeout
    while True:
        audited = db.audited("signoff.reminder_sent")
        dms = [t for t in texts(fake) if "Reminder" in t]
        if audited == len(dms):
            return audited, dms
        assert time.monotonic() < deadline, f"{audited} reminders audited, {len(dms)} sent: {dms}"
        time.sleep(0.05)


def reply(fake: FakeSlack, served: Served, command: str, text: str, channel: str) -> str:
    before = len(fake.calls_to("response_url"))
    response = served.slack.command(command, text, user_id="U_ALICE", channel_id=channel)
    assert response.status_code == 200, response.text
    return str(fake.wait_for("response_url", before + 1, timeout=10)[before].params["text"])


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_replicas_act_as_one_bot_and_hand_over_a_rollback_after_kill_9(
    replicas: tuple[Served, Served, Metrics, Path],
    fake_slack: FakeSlack,
    database_url: str,
) -> None:
    a, b, metrics, runs = replicas
    db = Database(database_url)

    # A rollout started on one replica, an incident declared on the other.
    assert "Started" in reply(fake_slack, a, "/rollout", f"start {FLAG}", CHANNEL)
    declared = reply(fake_slack, b, "/incident", "declare sev3 Replica drill", CHANNEL)
    assert "Declared SEV3" in declared, declared
    incident_channel = next(
        c for c, obj in fake_slack.channels.items() if "replica-drill" in obj["name"]
    )

    # Two scheduled advances (5% -> 10% -> 20%), then the gate holds and asks U_ENG, who is
    # reminded every 2 s; meanwhile the incident's 3 s status-update deadline passes.
    wait_until("the rollout at 20%", lambda: db.audited("rollout.advanced") >= 2, 20)
    wait_until("two reminders", lambda: db.audited("signoff.reminder_sent") >= 2, 15)
    wait_until("the missed deadline", lambda: db.timeline("deadline_missed") >= 1, 10)

    # Resolved: post-mortem reminders at 1 s and 2 s, overdue at 3 s.
    resolved = reply(fake_slack, a, "/incident", "resolve drill over", incident_channel)
    assert "resolved" in resolved.lower(), resolved
    wait_until(
        "the overdue post-mortem",
        lambda: any("is overdue" in t for t in texts(fake_slack, incident_channel)),
        15,
    )
    time.sleep(1.5)  # a tick of both replicas more: a second copy would show now

    assert db.audited("rollout.advanced") == 2
    advanced = [t for t in texts(fake_slack) if "moved to" in t or "advanced" in t.lower()]
    assert len(advanced) == len(set(advanced)) == 2, advanced
    assert db.audited("signoff.asked") == 1
    reminded, dms = sent_reminders(fake_slack, db)
    numbers = [t.split("Reminder ", 1)[1].split(":", 1)[0] for t in dms if "Reminder " in t]
    assert len(numbers) == len(set(numbers)) >= 2, dms  # each reminder once
    assert reminded == len(numbers)
    assert db.timeline("deadline_missed") == 1
    # Every attempt at the (failing) status page was made by one replica: rollbot's count
    # of attempts is what the page received.
    attempts = db.count("SELECT coalesce(sum(attempts), 0) FROM incident_status_update")
    # (One more may be on its way while this reads.)
    posts = metrics.status_posts
    assert attempts >= 2 and attempts <= posts <= attempts + 1, (attempts, posts)
    in_incident = texts(fake_slack, incident_channel)
    assert sum("was not published within" in t for t in in_incident) == 1, in_incident
    assert sum("is due in" in t for t in in_incident) == 2, in_incident
    assert sum("is overdue" in t for t in in_incident) == 1, in_incident

    # Both replicas evaluated the trigger every second; each second was counted once.
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT c.good, extract(epoch FROM c.evaluated_at - r.started_at) "
            "FROM metric_condition c JOIN rollout r ON r.id = c.rollout_id "
            "WHERE c.kind = 'trigger'"
        ).fetchone()
    assert row is not None
    good, seconds = int(row[0]), float(row[1])
    assert seconds / 2 <= good <= seconds + 1, (good, seconds)

    # The error rate breaks the trigger: one automatic rollback, whose Drain step is slow.
    metrics.errors = 0.5
    wait_until("the Drain step running", lambda: runs.read_text().strip() != "", 20)
    first_shell = int(runs.read_text().split()[0])
    holder_pid = parent_of(first_shell)
    holder, other = (a, b) if holder_pid == a.pid else (b, a)
    assert holder_pid == holder.pid, (holder_pid, a.pid, b.pid)
    assert db.audited("rollback.started") == 1

    holder.kill9()
    killed_at = time.monotonic()
    wait_until("the other replica resuming", lambda: len(runs.read_text().split()) >= 2, 10)
    handed_over = time.monotonic() - killed_at
    assert handed_over < 3.0, f"took {handed_over:.1f}s (ticks are 1 s)"
    second_shell = int(runs.read_text().split()[1])
    assert parent_of(second_shell) == other.pid
    wait_until("the killed command gone", lambda: process_gone(first_shell), 3)

    wait_until("the rollback finished", lambda: db.audited("rollback.succeeded") == 1, 20)
    # Said in the thread after it is recorded.
    wait_until(
        "the rollback's end in the thread",
        lambda: any("is rolled back" in t for t in texts(fake_slack)),
        10,
    )
    time.sleep(1.5)  # a tick of the survivor more: a second copy would show now
    assert db.audited("rollback.started") == 1
    assert db.audited("rollback.resumed") == 1
    assert db.audited("rollback.succeeded") == 1
    assert len(runs.read_text().split()) == 2  # the step in flight ran again once, no more
    finished = [t for t in texts(fake_slack) if "is rolled back" in t]
    assert len(finished) == 1, finished
    assert other.alive()
