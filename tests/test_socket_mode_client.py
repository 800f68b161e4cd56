"""rollbot's Socket Mode client in-process against the fake endpoint: what it corrects in
slack_sdk's websocket-client client (see bot/slack/socket_mode.py), held here so that an SDK
upgrade that changes the behaviour it relies on fails a test."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack.socket_mode import RollbotSocketModeHandler
from tests.fakes.slack_api import FakeSlack
from tests.fakes.socket_mode import ACK_DEADLINE, FakeSocketMode


@pytest.fixture
def socket_mode() -> Iterator[FakeSocketMode]:
    with FakeSlack() as slack, FakeSocketMode(slack) as fake:
        yield fake
        fake.assert_no_problems()


def handler_for(fake: FakeSocketMode) -> RollbotSocketModeHandler:
    client = WebClient(token="xoxb-test", base_url=fake.slack.api_url)
    app = App(client=client, token_verification_enabled=False)

    @app.command("/rollout")
    def rollout(ack: Ack) -> None:
        ack("ok")

    return RollbotSocketModeHandler(app, "xapp-1-test")


def test_refreshes_use_one_url_each_ack_at_once_and_close_promptly(
    socket_mode: FakeSocketMode,
) -> None:
    handler = handler_for(socket_mode)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
        assert handler.client.wait_until_open(10)
        socket_mode.wait_connected()
        time.sleep(1)  # the SDK's monitor and session thread have had their turn
        assert len(socket_mode.slack.calls_to("apps.connections.open")) == 1
        for refresh in range(1, 4):
            socket_mode.request_reconnect()
            socket_mode.wait_connected(count=refresh + 1, timeout=5)
            command = socket_mode.slash_command("/rollout", "help")
            socket_mode.wait_ack(command)
            assert command.acked_after is not None and command.acked_after < ACK_DEADLINE / 2
        assert len(socket_mode.slack.calls_to("apps.connections.open")) == 4
        assert [c.open for c in socket_mode.connections] == [False, False, False, True]
    finally:
        started = time.monotonic()
        handler.close()  # type: ignore[no-untyped-call]
        closed_after = time.monotonic() - started
    assert closed_after < 5  # not the 10 s select() timeout of a stalled session thread
    socket_mode.wait_closed(socket_mode.connections[-1], timeout=5)


def test_a_refused_handshake_is_reported_then_retried_with_a_fresh_url(
    socket_mode: FakeSocketMode,
) -> None:
    socket_mode.refuse_handshakes = 1
    handler = handler_for(socket_mode)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
        assert not handler.client.wait_until_open(10)
        socket_mode.wait_connected(timeout=15)
        command = socket_mode.slash_command("/rollout", "help")
        socket_mode.wait_ack(command)
        assert len(socket_mode.slack.calls_to("apps.connections.open")) == 2
    finally:
        handler.close()  # type: ignore[no-untyped-call]
