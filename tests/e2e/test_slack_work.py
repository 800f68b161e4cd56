"""The work after an ack runs on rollbot's pool, not in Bolt's listener threads: acks keep
coming while earlier requests' work is stuck, a modal still opens within Slack's 3 s, a
repeat is dropped, and work a dead replica left in the ledger is run again once (or given
up on, said so, when it is too old for its reply)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import ManualClock
from bot.services.requests import QueuedRequest, RequestLedger
from bot.slack.work import SlackWork
from bot.store.database import Database
from bot.store.models import ProcessedRequestRow
from tests.e2e.conftest import FLAG, Harness


class StuckReplies:
    """A response_url server whose posts hang until `release()`: work that replies there
    stays busy (as when Slack is slow), holding whatever thread runs it."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.posts: list[bytes] = []
        self.arrived = threading.Semaphore(0)
        stuck = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stuck.posts.append(body)
                stuck.arrived.release()
                stuck.released.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, n: int) -> str:
        """A response_url on this server."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/respond/{n}"

    def wait_posts(self, count: int, timeout: float = 10.0) -> None:
        """Wait until `count` posts are hanging here."""
        for _ in range(count):
            assert self.arrived.acquire(timeout=timeout), f"only {len(self.posts)} posts came"

    def release(self) -> None:
        """Let every post (now and later) through."""
        self.released.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stuck() -> Iterator[StuckReplies]:
    server = StuckReplies()
    try:
        yield server
    finally:
        server.close()


def test_acks_keep_coming_while_earlier_work_is_stuck(
    harness: Harness, stuck: StuckReplies
) -> None:
    workers = harness.work.workers
    # More stuck requests than the pool has workers and Bolt has listener threads (5).
    count = workers + 6
    for n in range(count):
        started = time.monotonic()
        response = harness.slack.command("/rollout", "list", response_url=stuck.url(n))
        assert response.status_code == 200
        assert time.monotonic() - started < 1.0, f"request {n} was acked late"
        if n == workers - 1:
            stuck.wait_posts(workers)  # every worker is now stuck on its reply
    # The commands are still answered once the replies get through.
    assert len(stuck.posts) == workers
    stuck.release()
    harness.drain()
    assert len(stuck.posts) == count


def test_a_form_opens_at_once_while_every_worker_is_stuck(
    harness: Harness, stuck: StuckReplies
) -> None:
    for n in range(harness.work.workers + 2):
        assert harness.slack.command("/rollout", "list", response_url=stuck.url(n)).is_success
    stuck.wait_posts(harness.work.workers)
    started = time.monotonic()
    assert harness.slack.command("/incident", "declare").status_code == 200
    # Within Slack's 3 s for the trigger id, though no worker is free.
    (opened,) = harness.fake.wait_for("views.open", 1, timeout=3.0)
    assert time.monotonic() - started < 3.0
    assert opened.params["trigger_id"] == harness.slack.last.trigger_id
    stuck.release()
    harness.drain()


def test_a_repeat_is_dropped_while_the_first_is_still_running(
    harness: Harness, stuck: StuckReplies
) -> None:
    harness.slack.command("/rollout", "list", response_url=stuck.url(1))
    first = harness.slack.last
    stuck.wait_posts(1)
    retry = harness.slack.resend(first, retry_num=1)  # Slack retrying, the work not done yet
    assert retry.status_code == 200
    stuck.release()
    harness.quiet()
    assert len(stuck.posts) == 1
    metrics = harness.web.get("/metrics").text
    assert 'rollbot_commands_total{command="/rollout",outcome="repeat"} 1.0' in metrics


def _left_by_a_dead_replica(harness: Harness, text: str) -> tuple[str, str]:
    """Record a `/rollout <text>` the way a replica takes it after its ack, on a pool that
    never runs it (the replica died); its key and its response_url."""
    dead = SlackWork(harness.rollbot.requests, workers=1)
    dead.runner("/rollout", lambda _queued: None)
    url = harness.fake.response_url()
    body = {
        "command": "/rollout",
        "text": text,
        "user_id": "U_ALICE",
        "channel_id": "C_RELEASES",
        "trigger_id": "dead.1.abc",
        "response_url": url,
    }
    assert dead.take("slack:dead.1.abc", "/rollout", {"body": body, "response_url": url})
    return "slack:dead.1.abc", url


def _replies_to(harness: Harness, url: str) -> list[str]:
    path = url.split("://", 1)[1].split("/", 1)[1]
    return [str(c.params.get("text")) for c in harness.responses() if c.path == "/" + path]


def test_work_a_dead_replica_left_is_run_again_once(harness: Harness) -> None:
    harness.command(f"start {FLAG}")
    harness.drain()
    _key, url = _left_by_a_dead_replica(harness, f"status {FLAG}")
    assert harness.rollbot.requests.waiting() == 1
    harness.quiet()
    assert _replies_to(harness, url) == []  # its claim has not run out: nobody touches it
    harness.clock.advance(harness.rollbot.requests.lease + timedelta(seconds=1))
    deadline = time.monotonic() + 10
    while not _replies_to(harness, url):
        assert time.monotonic() < deadline, "the abandoned command was not run again"
        time.sleep(0.05)
    harness.drain()
    (reply,) = _replies_to(harness, url)
    assert FLAG in reply
    # Done: nothing is left to claim, however long one waits.
    assert harness.rollbot.requests.waiting() == 0
    harness.clock.advance(timedelta(minutes=5))
    assert harness.work.recover() == 0
    harness.quiet()
    assert len(_replies_to(harness, url)) == 1
    # A repeat of it is still a repeat.
    assert harness.rollbot.requests.take("slack:dead.1.abc", "/rollout", {}, hold=True) is None


def test_a_command_cut_off_after_its_change_committed_is_not_run_again(
    harness: Harness,
) -> None:
    harness.command(f"start {FLAG}")
    harness.drain()
    key, url = _left_by_a_dead_replica(harness, f"advance {FLAG}")
    queued = QueuedRequest(key, "/rollout", _payload_of(harness, key), harness.clock.now(), 1)
    # The dead replica's worker ran the advance, then died before it could say it was done.
    with harness.rollbot.requests.running(key) as run:
        harness.work.runner_of("/rollout")(queued)
    assert run.committed  # the done mark went in with the advance's own transaction
    harness.drain()
    assert harness.flag()["segment_rollouts"] == {"internal": 100}
    assert harness.rollbot.requests.waiting() == 0
    # Past its lease, and past the guard between two typed advances: nothing is run again,
    # so the rollout did not advance a second step behind anyone's back.
    harness.clock.advance(harness.rollbot.requests.lease + timedelta(minutes=1))
    assert harness.work.recover() == 0
    harness.quiet()
    assert harness.flag()["rollout_percentage"] == 0
    assert harness.flag()["segment_rollouts"] == {"internal": 100}
    assert len(_replies_to(harness, url)) == 1


def _payload_of(harness: Harness, key: str) -> dict[str, Any]:
    with harness.rollbot.db.read() as s:
        row = s.get(ProcessedRequestRow, key)
        assert row is not None and row.payload is not None
        return dict(row.payload)


def _wait_nothing_waiting(harness: Harness) -> None:
    deadline = time.monotonic() + 10
    while harness.rollbot.requests.waiting():
        assert time.monotonic() < deadline, "the abandoned request is still waiting"
        time.sleep(0.05)


def _assert_given_up(
    harness: Harness, url: str, caplog: pytest.LogCaptureFixture, said: str, outcome: str
) -> None:
    """The request left waiting at `url` is given up: never replied to, its log line says
    `said`, and `/rollout` counts one request with that outcome."""
    _wait_nothing_waiting(harness)
    harness.quiet()
    assert _replies_to(harness, url) == []
    assert said in caplog.text
    metrics = harness.web.get("/metrics").text
    assert f'rollbot_commands_total{{command="/rollout",outcome="{outcome}"}} 1.0' in metrics


def test_work_too_old_for_its_reply_is_dropped_and_counted(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.slack.work")
    _key, url = _left_by_a_dead_replica(harness, "list")
    harness.clock.advance(timedelta(minutes=31))  # Slack's response_url lasts 30 minutes
    _assert_given_up(
        harness, url, caplog, "dropped 1 Slack request(s) older than 0:30:00", "expired"
    )


def test_work_interrupted_twice_is_given_up_and_said_so(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.slack.work")
    key, url = _left_by_a_dead_replica(harness, "list")
    lease = harness.rollbot.requests.lease + timedelta(seconds=1)
    # A second replica, whose clock is past the first one's lease, claimed it again and
    # died too (the harness's own clock has not moved: its pool keeps out of it).
    later = ManualClock(harness.clock.now() + lease)
    claimed = RequestLedger(harness.rollbot.db, later).claim_waiting(10)
    assert [(q.key, q.runs) for q in claimed.runnable] == [(key, 2)]
    harness.clock.advance(2 * lease)
    said = "gave up on 1 Slack request(s) whose work was interrupted twice"
    _assert_given_up(harness, url, caplog, said, "exhausted")


def test_queued_request_payload_is_dropped_once_done(harness: Harness) -> None:
    harness.command("list")
    harness.drain()
    ledger = harness.rollbot.requests
    # The body (with its live response_url) is not kept once the work is done.
    with ledger.db.read() as s:
        rows = list(s.exec(select(ProcessedRequestRow)))
    assert rows and all(r.payload is None and r.claimed_until is None for r in rows)
    assert all(r.listener == "/rollout" for r in rows)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[RequestLedger]:
    """A request ledger on a database of its own (no other pool claims from it)."""
    db = Database(f"sqlite:///{tmp_path / 'work.db'}")
    try:
        yield RequestLedger(db, ManualClock())
    finally:
        db.dispose()


def test_a_burst_past_the_pools_capacity_waits_in_the_database_and_runs_in_order(
    ledger: RequestLedger,
) -> None:
    seen: list[QueuedRequest] = []
    gate = threading.Event()

    def run(queued: QueuedRequest) -> None:
        gate.wait(10)
        seen.append(queued)

    work = SlackWork(ledger, workers=1, capacity=2, poll_seconds=0.05)
    work.runner("probe", run)
    work.start()
    try:
        for n in range(6):
            assert work.take(f"probe:{n}", "probe", {"body": {"n": n}})
        assert not work.take("probe:3", "probe", {"body": {"n": 3}})  # a repeat, waiting or not
        # Two held here; the rest is recorded, unclaimed, for whoever has room.
        assert ledger.waiting() == 6
        gate.set()
        assert work.wait_idle(10)
    finally:
        work.close()
    assert [q.payload["body"]["n"] for q in seen] == [0, 1, 2, 3, 4, 5]
    assert [q.runs for q in seen] == [1, 1, 1, 1, 1, 1]
    assert ledger.waiting() == 0


def test_stopping_leaves_work_not_started_to_the_next_replica(ledger: RequestLedger) -> None:
    gate = threading.Event()
    ran: list[str] = []

    def run(queued: QueuedRequest) -> None:
        gate.wait(10)
        ran.append(queued.key)

    work = SlackWork(ledger, workers=1)
    work.runner("probe", run)
    work.start()
    for n in range(3):
        assert work.take(f"probe:{n}", "probe", {"body": {}})
    work.close(timeout=0.2)  # the first is running; the other two have not started
    gate.set()
    # Let go at once: the next claimer takes them without waiting for the lease.
    claimed = ledger.claim_waiting(10, exclude=["probe:0"])
    assert sorted(q.key for q in claimed.runnable) == ["probe:1", "probe:2"]
    assert work.wait_idle(5)  # the running one finished, and was marked done
    assert ran == ["probe:0"]
    assert ledger.claim_waiting(10).runnable == []
