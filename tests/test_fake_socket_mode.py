"""The fake Socket Mode endpoint itself: URLs from apps.connections.open, one-time tickets,
and the ack rules it holds an app to (so a passing Socket Mode test means something)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.fakes.slack_api import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A running fake Web API."""
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def socket_mode(slack: FakeSlack) -> Iterator[FakeSocketMode]:
    """Socket Mode turned on at `slack`."""
    with FakeSocketMode(slack) as fake:
        yield fake


def open_url(slack: FakeSlack, token: str = "xapp-1-test") -> str:
    """What apps.connections.open answers for `token`."""
    return str(WebClient(base_url=slack.api_url).apps_connections_open(app_token=token)["url"])


@contextlib.contextmanager
def app_socket(slack: FakeSlack) -> Iterator[ClientConnection]:
    """A hand-driven app connection, past Slack's hello."""
    with connect(open_url(slack)) as websocket:
        assert json.loads(websocket.recv(timeout=5))["type"] == "hello"
        yield websocket


def test_connections_open_needs_an_app_token_and_socket_mode(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError, match="socket_mode_not_enabled"):
        open_url(slack)
    with FakeSocketMode(slack) as socket_mode:
        url = open_url(slack)
        assert url.startswith(f"ws://127.0.0.1:{socket_mode.port}/link/?ticket=")
        with pytest.raises(SlackApiError, match="not_allowed_token_type"):
            open_url(slack, token="xoxb-bot-token")
    # The bot token is still refused where an app token belongs, and the reverse.
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        WebClient(token="xapp-1-test", base_url=slack.api_url).chat_postMessage(
            channel="C1", text="x"
        )


def test_a_ticket_opens_one_connection(slack: FakeSlack, socket_mode: FakeSocketMode) -> None:
    url = open_url(slack)
    with connect(url) as first:
        assert json.loads(first.recv(timeout=5))["num_connections"] == 1
        with pytest.raises(InvalidStatus):
            connect(url)
    assert len(socket_mode.connections) == 1
    path = url.split("/", 3)[3]
    assert socket_mode.problems == [f"connected with an unknown or used ticket: /{path}"]


def test_a_good_ack_is_matched_to_its_envelope(
    slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    with app_socket(slack) as websocket:
        envelope = socket_mode.slash_command("/rollout", "help")
        delivered = json.loads(websocket.recv(timeout=5))
        assert delivered["type"] == "slash_commands" and delivered["accepts_response_payload"]
        assert delivered["payload"]["command"] == "/rollout"
        assert delivered["payload"]["text"] == "help"
        websocket.send(json.dumps({"envelope_id": delivered["envelope_id"], "payload": {}}))
        assert socket_mode.wait_ack(envelope) == {
            "envelope_id": envelope.envelope_id,
            "payload": {},
        }
    socket_mode.assert_no_problems()


def test_bad_acks_are_problems(slack: FakeSlack, socket_mode: FakeSocketMode) -> None:
    with app_socket(slack) as websocket:
        press = socket_mode.block_action("rollout_advance", "{}")
        websocket.recv(timeout=5)
        websocket.send(json.dumps({"envelope_id": press.envelope_id, "payload": {"text": "x"}}))
        socket_mode.wait_ack(press)
        websocket.send(json.dumps({"envelope_id": press.envelope_id}))
        websocket.send(json.dumps({"envelope_id": "never-sent"}))
        websocket.send("not json")
        # The server reads the app's messages on its own thread: wait for all four.
        deadline = time.monotonic() + 5
        while len(socket_mode.connections[0].received) < 4:
            assert time.monotonic() < deadline, socket_mode.connections[0].received
            time.sleep(0.01)
    assert len(socket_mode.problems) == 4, socket_mode.problems
    problems = "\n".join(socket_mode.problems)
    assert "a payload where the envelope accepts none" in problems
    assert "acked twice" in problems
    assert "never sent: never-sent" in problems
    assert "not JSON" in problems
    with pytest.raises(AssertionError, match="Socket Mode problems"):
        socket_mode.assert_no_problems()
