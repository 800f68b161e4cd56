"""Slack down for a minute of rollbot's time, answering 429 (with Retry-After) and 500:
commands are still acked and answered, what rollbot says in the thread waits in the outbox,
and once Slack is back it arrives in the order things happened, each message once."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.e2e.conftest import FLAG, Harness


def test_a_minute_of_429_and_500_loses_and_doubles_nothing_and_keeps_thread_order(
    harness: Harness,
) -> None:
    h = harness
    reply = h.command(f"start {FLAG}")
    assert "Started" in reply.params["text"]
    h.fake.wait_for("chat.postMessage", 2)
    (card,) = h.cards()
    assert card.response is not None
    card_ts = str(card.response["ts"])
    posted_before = len(h.thread_posts())

    h.fake.outage(h.clock.now, until=h.clock.now() + timedelta(minutes=1))
    for text in (f"advance {FLAG}", f"set {FLAG} 3 --force", f"pause {FLAG}"):
        before = len(h.responses())
        started = time.monotonic()
        response = h.slack.command("/rollout", text)
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < 3.0  # acked in time, Slack down or not
        # Answered too, once the card's retries (which wait out Retry-After) gave up.
        answer = h.fake.wait_for("response_url", before + 1, timeout=20)[before]
        assert "unexpected problem" not in answer.params["text"].lower(), answer.params
        h.clock.advance(timedelta(seconds=10))
    h.quiet()
    failed = [c for c in h.fake.calls_to("chat.postMessage") if not c.ok]
    assert {c.status for c in failed} == {429, 500}, [c.status for c in failed]
    assert len(h.thread_posts()) == posted_before  # nothing got through, nothing overtook
    assert h.fake.retry_after_ignored == []  # every retry waited out Retry-After

    # Still down at 50 s: the retry fails, nothing is lost.
    h.clock.advance(timedelta(seconds=20))
    assert h.rollbot.rollouts.deliver_pending() == 0
    assert len(h.thread_posts()) == posted_before

    h.clock.advance(timedelta(seconds=40))  # Slack is back, every backoff has passed
    assert h.rollbot.rollouts.deliver_pending() == 3
    assert h.rollbot.rollouts.deliver_pending() == 0  # nothing left, nothing twice
    after = h.thread_posts()[posted_before:]
    texts = [str(c.params["text"]) for c in after]
    assert [c.params["thread_ts"] for c in after] == [card_ts] * 3
    assert "advanced" in texts[0] and "3%" in texts[1] and "paused" in texts[2].lower(), texts
    assert len(set(texts)) == 3
    # The card shows where things stand now.
    updates = [c for c in h.fake.calls_to("chat.update") if c.ok]
    assert updates and "paused" in str(updates[-1].params).lower()
    assert h.fake.retry_after_ignored == []
    h.fake.assert_no_invalid_payloads()
