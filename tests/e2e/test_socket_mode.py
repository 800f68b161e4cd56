"""`rollbot serve` in Socket Mode, end to end: a real subprocess connects to a fake Slack
(Web API over HTTP, Socket Mode over a real WebSocket) and runs a rollout over the socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import NO_GATES
from tests.e2e.conftest import CHANNEL, FLAG, PLANS_DIR, REPO_ROOT, button_value, card_state
from tests.fakes.slack_api import FakeSlack
from tests.fakes.socket_mode import ACK_DEADLINE, FakeSocketMode
from tests.own_metrics import value as metric

APP_TOKEN = "xapp-1-A0ROLLBOT-1-socketmodetest"
CONNECTED = "Slack: connected in Socket Mode."


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """`rollbot serve` as a subprocess of the checkout under test, its output collected."""

    def __init__(self, tmp_path: Path, fake: FakeSlack, app_token: str = APP_TOKEN) -> None:
        config = tmp_path / "rollbot.yaml"
        # No scheduled work while a test runs: the sign-off tick (every 15 s by default) runs
        # the shipped plan's checklist probes, whose first failure edits the card once more,
        # after the press or before it, as the load decides.
        config.write_text(
            NO_GATES
            + f"rollouts:\n  plans_dir: {PLANS_DIR}\n  default_plan: realtime-features\n"
            + "scheduler:\n  tick_seconds: 3600\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBOT_"))}
        env.update(
            {
                # No SLACK_SIGNING_SECRET: Socket Mode needs none, requests come over the socket.
                "SLACK_BOT_TOKEN": "xoxb-test",
                "SLACK_APP_TOKEN": app_token,
                "SLACK_API_URL": fake.api_url,
                "DATABASE_URL": f"sqlite:///{tmp_path}/socket.db",
                "ROLLBOT_API_TOKEN": "tok",
                "ROLLBOT_CONFIG": str(config),
                "PYTHONPATH": os.pathsep.join(
                    [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
                ),
            }
        )
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli_main", "serve", "--port", str(self.port)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name="serve-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        """Everything printed so far (stdout and stderr)."""
        return "\n".join(self.lines)

    def wait_for_output(self, text: str, timeout: float = 30.0) -> None:
        """Wait until `text` was printed (AssertionError with the output otherwise)."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert self._proc.poll() is None or self._reader.is_alive(), (
                f"rollbot serve exited ({self._proc.returncode}) without printing {text!r}:\n"
                + self.output
            )
            assert time.monotonic() < deadline, f"no {text!r} within {timeout}s:\n{self.output}"
            time.sleep(0.05)

    def wait_http(self, timeout: float = 30.0) -> None:
        """Wait until the web server answers /healthz."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.base_url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self._proc.poll() is None, f"rollbot serve exited:\n{self.output}"
            assert time.monotonic() < deadline, f"rollbot serve did not come up:\n{self.output}"
            time.sleep(0.1)

    def flag(self) -> dict[str, Any]:
        """GET /flags/realtime-features from the running process."""
        response = httpx.get(f"{self.base_url}/flags/{FLAG}")
        assert response.status_code == 200, response.text
        doc: dict[str, Any] = response.json()
        return doc

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the process to exit on its own; return its exit code."""
        code = self._proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; return the exit code."""
        if self._proc.poll() is None:
            self._proc.terminate()
        try:
            return self.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self.wait(timeout=10)
            raise AssertionError(f"rollbot serve ignored SIGTERM:\n{self.output}") from None


@pytest.fixture
def socket_mode(fake_slack: FakeSlack) -> Iterator[FakeSocketMode]:
    """Socket Mode turned on at the fake Slack; fails the test on bad acks."""
    with FakeSocketMode(fake_slack) as fake_socket:
        yield fake_socket
        fake_socket.assert_no_problems()


@pytest.fixture
def serve(tmp_path: Path, fake_slack: FakeSlack, socket_mode: FakeSocketMode) -> Iterator[Serve]:
    """A running `rollbot serve`, connected over the socket; stopped (cleanly) after."""
    process = Serve(tmp_path, fake_slack)
    try:
        process.wait_for_output(CONNECTED)
        process.wait_http()
        socket_mode.wait_connected()
        yield process
    finally:
        code = process.stop()
    # Stopped gracefully: serve's own clean-up (socket, scheduler, database) ran to the end.
    assert code == 0 and "rollbot stopped." in process.lines, process.output
    assert "Traceback" not in process.output, process.output


def test_serve_runs_a_rollout_from_a_command_and_a_button_over_the_socket(
    serve: Serve, fake_slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    assert CONNECTED in serve.output
    (opened,) = fake_slack.calls_to("apps.connections.open")
    assert opened.headers["authorization"] == f"Bearer {APP_TOKEN}"

    command = socket_mode.slash_command("/rollout", f"start {FLAG}", channel_id=CHANNEL)
    assert socket_mode.wait_ack(command) == {"envelope_id": command.envelope_id}
    assert command.acked_after is not None and command.acked_after < ACK_DEADLINE
    reply = fake_slack.wait_for("response_url", timeout=10)[0]
    assert reply.params["response_type"] == "ephemeral"
    assert "Started" in reply.params["text"]
    posted = fake_slack.wait_for("chat.postMessage", 2, timeout=10)
    (card,) = [c for c in posted if "thread_ts" not in c.params]
    assert card.params["channel"] == CHANNEL and card.response is not None
    ts = str(card.response["ts"])
    assert serve.flag()["rollout_percentage"] == 0

    blocks = card.params["blocks"]
    value = button_value(blocks, "rollout_advance")
    assert value is not None
    press = socket_mode.block_action(
        "rollout_advance", value, message_ts=ts, message_blocks=blocks, channel_id=CHANNEL
    )
    assert socket_mode.wait_ack(press) == {"envelope_id": press.envelope_id}
    (update,) = fake_slack.wait_for("chat.update", timeout=10)
    assert (update.params["channel"], update.params["ts"]) == (CHANNEL, ts)
    # The shipped plan's staff step: on for the internal segment only
    card_now = card_state(fake_slack, CHANNEL, ts)
    assert "*Segments:* internal 100%; everyone else 0%" in card_now, card_now
    flag = serve.flag()
    assert (flag["enabled"], flag["rollout_percentage"]) == (True, 0)
    assert flag["segment_rollouts"] == {"internal": 100}
    events = [c for c in fake_slack.calls_to("chat.postMessage") if c is not card]
    assert events and all(c.params.get("thread_ts") == ts for c in events)
    assert len(socket_mode.connections) == 1

    # rollbot's own metrics counted both over the socket and timed their acks.
    deadline = time.monotonic() + 10
    while True:
        page = httpx.get(f"{serve.base_url}/metrics").text
        if metric(page, "rollbot_commands_total", command="button:advance", outcome="ok"):
            break
        assert time.monotonic() < deadline, page
        time.sleep(0.05)
    assert metric(page, "rollbot_commands_total", command="/rollout", outcome="ok") == 1
    assert metric(page, "rollbot_ack_seconds_count") == 2
    assert metric(page, "rollbot_ack_seconds_bucket", le="3.0") == 2
    calls = "rollbot_slack_api_calls_total"
    assert metric(page, calls, method="apps.connections.open", outcome="ok") == 1
    assert metric(page, calls, method="chat.update", outcome="ok") == 1


def test_events_the_app_subscribes_to_are_acked_so_slack_does_not_retry_them(
    serve: Serve, socket_mode: FakeSocketMode
) -> None:
    # The manifest subscribes to these; an envelope left unacked is redelivered by Slack.
    for event in (
        {
            "type": "reaction_added",
            "user": "U_BOB",
            "reaction": "eyes",
            "item": {"type": "message", "channel": CHANNEL, "ts": "1700000000.000100"},
        },
        {"type": "member_joined_channel", "user": "U_BOB", "channel": CHANNEL},
    ):
        envelope = socket_mode.event(event)
        assert socket_mode.wait_ack(envelope) == {"envelope_id": envelope.envelope_id}


def test_a_refresh_request_moves_to_a_new_connection_that_keeps_working(
    serve: Serve, fake_slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    old = socket_mode.request_reconnect()
    new = socket_mode.wait_connected(count=2)
    assert new.index == 1 and new.ticket != old.ticket
    assert len(fake_slack.calls_to("apps.connections.open")) == 2  # a fresh URL each time
    socket_mode.wait_closed(old)  # the app let go of the old connection by itself

    command = socket_mode.slash_command("/rollout", "help", channel_id=CHANNEL)
    assert command.connection == 1
    assert socket_mode.wait_ack(command) == {"envelope_id": command.envelope_id}
    reply = fake_slack.wait_for("response_url", timeout=10)[0]
    assert "/rollout start" in reply.params["text"]


def test_a_command_arriving_while_the_app_switches_connections_is_acked_in_time(
    serve: Serve, socket_mode: FakeSocketMode
) -> None:
    socket_mode.request_reconnect()
    socket_mode.wait_connected(count=2)
    command = socket_mode.slash_command("/rollout", "help", channel_id=CHANNEL)
    socket_mode.wait_ack(command, timeout=10)
    late_acks = list(socket_mode.problems)
    socket_mode.problems.clear()  # judged here, so that only this assertion is expected to fail
    # Half the deadline: an ack takes milliseconds, and one that leaves Slack's 3 s with no
    # margin fails it under load.
    assert command.acked_after is not None and command.acked_after < ACK_DEADLINE / 2, late_acks


def test_serve_says_when_the_socket_is_not_open_yet_and_connects_later(
    tmp_path: Path, fake_slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    socket_mode.refuse_handshakes = 1  # Slack's socket end is down at start-up
    process = Serve(tmp_path, fake_slack)
    try:
        process.wait_for_output("rollbot listening on")
        assert CONNECTED not in process.output
        assert "Socket Mode connection is not open yet" in process.output
        # The client retries on its own (every 10 s ping interval) with a fresh URL.
        socket_mode.wait_connected(timeout=30)
        command = socket_mode.slash_command("/rollout", "help", channel_id=CHANNEL)
        socket_mode.wait_ack(command)
    finally:
        assert process.stop() == 0, process.output
    assert len(fake_slack.calls_to("apps.connections.open")) >= 2


def test_serve_refuses_a_bot_token_given_as_the_app_token(
    tmp_path: Path, fake_slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    process = Serve(tmp_path, fake_slack, app_token="xoxb-pasted-the-wrong-one")
    assert process.wait() == 2, process.output
    assert "not_allowed_token_type" in process.output
    assert "SLACK_APP_TOKEN" in process.output and "xapp-" in process.output
    assert "Traceback" not in process.output
    assert socket_mode.connections == []


def test_config_check_says_slack_is_reached_in_socket_mode(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBOT_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_APP_TOKEN": APP_TOKEN,
            "PYTHONPATH": os.pathsep.join(
                [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        }
    )
    config = tmp_path / "rollbot.yaml"
    config.write_text(NO_GATES + f"rollouts:\n  plans_dir: {PLANS_DIR}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli_main", "config", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Slack Socket Mode)" in result.stdout
    assert APP_TOKEN not in result.stdout + result.stderr
