"""rollbot's own metrics after real Slack traffic: signed commands and a click over HTTP, a
Slack API call that fails, an incident whose first status update goes out; then a scrape
of `GET /metrics`."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from tests.e2e.conftest import CHANNEL, FLAG, Harness, button_value
from tests.own_metrics import names, value

ADVANCE = "rollout_advance"


def scrape(h: Harness) -> str:
    response = h.web.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def wait_value(h: Harness, name: str, expected: float, **labels: str) -> str:
    """Scrape until `name{labels}` reaches `expected` (work after an ack is asynchronous)."""
    deadline = time.monotonic() + 10
    while True:
        page = scrape(h)
        if value(page, name, **labels) == expected:
            return page
        assert time.monotonic() < deadline, f"{name}{labels}: {value(page, name, **labels)}"
        time.sleep(0.05)


def test_commands_clicks_slack_calls_outbox_and_incidents_are_on_metrics(harness: Harness) -> None:
    h = harness
    before = scrape(h)
    # Every name users' alerts rely on is there before anything happened.
    assert {
        "rollbot_commands",
        "rollbot_ack_seconds",
        "rollbot_slack_api_calls",
        "rollbot_outbox_depth",
        "rollbot_outbox_oldest_seconds",
        "rollbot_trigger_evaluations",
        "rollbot_rollbacks",
        "rollbot_incidents_open",
        "rollbot_first_status_update_seconds",
        "rollbot_digests_posted",
        "rollbot_rollouts_active",
        "rollbot_rollout_percentage",
    } <= names(before)
    assert value(before, "rollbot_rollouts_active") == 0
    assert value(before, "rollbot_outbox_depth", state="waiting") == 0
    assert value(before, "rollbot_outbox_depth", state="given_up") == 0
    assert value(before, "rollbot_outbox_oldest_seconds") == 0

    # Two slash commands, one of them refused.
    assert "Started" in h.command(f"start {FLAG}").params["text"]
    assert ":warning:" in h.command("frobnicate").params["text"]
    wait_value(h, "rollbot_commands_total", 1, command="/rollout", outcome="refused")
    h.fake.wait_for("chat.postMessage", 2)
    (card,) = h.cards()
    assert card.response is not None
    ts = str(card.response["ts"])

    # A click on the card's Advance button, whose thread message Slack refuses: it waits in
    # the outbox.
    h.fake.fail_next("chat.postMessage", status=200, error="channel_not_found")
    message = h.fake.message(CHANNEL, ts)
    assert message is not None
    blocks = message["blocks"]
    advance_value = button_value(blocks, ADVANCE)
    assert advance_value is not None
    response = h.slack.block_action(
        ADVANCE, value=advance_value, message_ts=ts, message_blocks=blocks, channel_id=CHANNEL
    )
    assert response.status_code == 200
    page = wait_value(h, "rollbot_commands_total", 1, command="button:advance", outcome="ok")
    assert value(page, "rollbot_commands_total", command="/rollout", outcome="ok") == 1
    assert value(page, "rollbot_commands_total", command="/rollout", outcome="refused") == 1
    # Three acks timed, each well within Slack's 3 s.
    assert value(page, "rollbot_ack_seconds_count") == 3
    assert value(page, "rollbot_ack_seconds_bucket", le="3.0") == 3
    page = wait_value(
        h, "rollbot_slack_api_calls_total", 1, method="chat.postMessage", outcome="error"
    )
    # The card and the start's thread message went out; the card was edited once.
    calls = "rollbot_slack_api_calls_total"
    assert value(page, calls, method="chat.postMessage", outcome="ok") == 2
    assert value(page, calls, method="chat.update", outcome="ok") == 1
    assert value(page, "rollbot_rollouts_active") == 1
    # The shipped plan's staff step: 0% for everyone, the internal segment at 100%
    assert value(page, "rollbot_rollout_percentage", flag=FLAG) == 0
    assert h.flag()["segment_rollouts"] == {"internal": 100} and h.flag()["enabled"] is True

    h.clock.advance(timedelta(seconds=42))
    page = scrape(h)
    assert (value(page, "rollbot_outbox_depth", state="waiting") or 0) >= 1
    assert value(page, "rollbot_outbox_depth", state="given_up") == 0
    assert value(page, "rollbot_outbox_oldest_seconds") == 42

    # An incident, and its first status update published 90 s after the declaration.
    before = len(h.responses())
    response = h.slack.command("/incident", "declare sev2 Checkout API errors", channel_id=CHANNEL)
    assert response.status_code == 200
    reply = h.fake.wait_for("response_url", before + 1, timeout=10)[before]
    assert "Declared" in reply.params["text"]
    page = scrape(h)
    assert value(page, "rollbot_incidents_open") == 1
    assert value(page, "rollbot_first_status_update_seconds_count") == 0
    channel = next(c for c, obj in h.fake.channels.items() if obj["name"].startswith("inc-"))
    h.clock.advance(timedelta(seconds=90))
    before = len(h.responses())
    h.slack.command("/incident", "publish", channel_id=channel)
    reply = h.fake.wait_for("response_url", before + 1, timeout=10)[before]
    assert ":warning:" not in json.dumps(reply.params), reply.params
    page = wait_value(h, "rollbot_first_status_update_seconds_count", 1)
    assert value(page, "rollbot_first_status_update_seconds_sum") == 90
    assert value(page, "rollbot_first_status_update_seconds_bucket", le="60.0") == 0
    assert value(page, "rollbot_first_status_update_seconds_bucket", le="120.0") == 1
    # Counted once the handler returns, which may be after its reply arrived.
    wait_value(h, "rollbot_commands_total", 2, command="/incident", outcome="ok")
