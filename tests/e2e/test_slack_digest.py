"""Digests in Slack, end to end: `/rollout digest` over signed HTTP into the running app
(ephemeral replies), and a scheduled digest posted in its channel, against the fake Slack
Web API (which validates every Block Kit payload with slack_sdk.models and the 50-block
limit)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.domain.actor import Actor, Via
from bot.domain.incident import Severity
from bot.slack.blocks import MAX_SECTION_TEXT
from tests.digest_support import seed
from tests.e2e.conftest import Harness

DIGESTS = (
    "digests:\n"
    "  - {name: daily, channel: C_DIGEST, cron: '0 9 * * *', timezone: Europe/Berlin}\n"
    "  - {name: weekly, channel: C_DIGEST, cron: '0 9 * * MON', timezone: UTC}\n"
)


@pytest.fixture
def harness_extra_yaml() -> str:
    return DIGESTS


def _texts(blocks: list[dict[str, object]]) -> str:
    return json.dumps(blocks)


def test_rollout_digest_shows_the_digest_privately(harness: Harness) -> None:
    harness.rollbot.rollouts.start("realtime-features", None, Actor("U_BOB", Via.SLACK))
    harness.rollbot.incidents.declare(
        Severity.SEV2, "Chat <!channel> down", Actor("U_BOB", Via.SLACK)
    )
    reply = harness.command("digest daily")
    body = reply.params
    assert body["response_type"] == "ephemeral"
    blocks = body["blocks"]
    text = _texts(blocks)
    assert "Status digest: daily" in text
    assert "realtime-features" in text and "Active rollouts (1)" in text
    # Incident titles are someone's text: escaped, never a ping.
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "Open incidents (1)" in text and "Scorecard" in text
    assert harness.fake.calls_to("chat.postMessage") == [] or all(
        c.params.get("channel") != "C_DIGEST" for c in harness.fake.calls_to("chat.postMessage")
    )
    harness.fake.assert_no_invalid_payloads()


def test_a_quiet_digest_says_so_in_one_line(harness: Harness) -> None:
    reply = harness.command("digest")
    text = _texts(reply.params["blocks"])
    assert "Nothing to report: no active rollouts, no sign-offs waiting, no open incidents." in text


def test_an_unknown_digest_gets_the_configured_names(harness: Harness) -> None:
    reply = harness.command("digest nightly")
    text = reply.params["text"]
    assert reply.params["response_type"] == "ephemeral"
    assert "There is no digest `nightly`" in text
    assert "`daily`" in text and "`weekly`" in text


def test_help_lists_digest(harness: Harness) -> None:
    assert "/rollout digest [name]" in harness.command("help").params["text"]


def test_200_active_rollouts_stay_within_block_kit_limits(harness: Harness) -> None:
    seed(harness.rollbot, 200, 50, harness.clock.now())
    before = len(harness.responses())
    response = harness.slack.command("/rollout", "digest daily")
    assert response.status_code == 200
    harness.fake.wait_for("response_url", before + 1)
    harness.quiet()
    replies = harness.responses()[before:]
    assert 1 <= len(replies) <= 4
    for reply in replies:
        blocks = reply.params["blocks"]
        assert len(blocks) <= 50
        for block in blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
    text = "".join(_texts(r.params["blocks"]) for r in replies)
    assert "Active rollouts (201)" in text and "and 186 more rollouts" in text
    harness.fake.assert_no_invalid_payloads()


def test_a_scheduled_digest_is_posted_in_its_channel(harness: Harness) -> None:
    digests = harness.rollbot.digests
    assert digests is not None
    seed(harness.rollbot, 200, 300, harness.clock.now())
    digests.run_due()  # first seen: baseline, nothing posted
    assert harness.fake.calls_to("chat.postMessage") == [] or not [
        c for c in harness.fake.calls_to("chat.postMessage") if c.params["channel"] == "C_DIGEST"
    ]
    # The harness clock starts Monday 2026-11-02 09:00 UTC (10:00 Berlin): the next daily
    # slot is Tuesday 09:00 Berlin (08:00 UTC).
    harness.clock.advance(timedelta(hours=23, seconds=5))
    (posted,) = digests.run_due()
    assert posted.delivered and not posted.late
    calls = [
        c for c in harness.fake.calls_to("chat.postMessage") if c.params["channel"] == "C_DIGEST"
    ]
    assert len(calls) >= 2  # too long for one message: split, every part accepted
    for call in calls:
        assert call.ok and "thread_ts" not in call.params
        assert len(call.params["blocks"]) <= 50
    assert "continued (2/" in _texts(calls[1].params["blocks"])
    text = "".join(_texts(c.params["blocks"]) for c in calls)
    assert "and 186 more rollouts" in text and "Post-mortems due" in text
    harness.fake.assert_no_invalid_payloads()
    assert digests.posted_counts() == {"daily": 1, "weekly": 0}
