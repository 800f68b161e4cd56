"""`/rollout` and the card's buttons, end to end through Slack's HTTP interface."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx

from tests.e2e.conftest import CHANNEL, FLAG, Harness, button_styles, button_value, card_state
from tests.fakes.slack_api import Call


def start(h: Harness) -> str:
    """Start the reference rollout; return the card's ts."""
    reply = h.command(f"start {FLAG}")
    assert "Started" in reply.params["text"]
    h.fake.wait_for("chat.postMessage", 2)
    (card,) = h.cards()
    assert card.response is not None
    return str(card.response["ts"])


def advance(h: Harness) -> None:
    """Advance by command and wait for the card to be edited."""
    updates = len(h.fake.calls_to("chat.update"))
    reply = h.command(f"advance {FLAG}")
    assert ":warning:" not in reply.params["text"], reply.params["text"]
    h.fake.wait_for("chat.update", updates + 1)


def to_five_percent(h: Harness) -> None:
    """Advance through the shipped plan's staff step (the internal segment at 100%) to 5% of
    everyone, past the typed-advance guard between the two."""
    advance(h)
    h.clock.advance(timedelta(minutes=1))
    advance(h)


# The card's note of the plan's segments, at the staff step and at 5%
STAFF = "*Segments:* internal 100%; everyone else 0%"
FIVE = "*Segments:* internal 100%; everyone else 5%"


def current_blocks(h: Harness, ts: str) -> list[dict[str, Any]]:
    message = h.fake.message(CHANNEL, ts)
    assert message is not None
    blocks: list[dict[str, Any]] = message["blocks"]
    return blocks


def click(h: Harness, action_id: str, ts: str, value: str | None = None) -> httpx.Response:
    """Press a button on the card as it stands now (or with an old `value`)."""
    blocks = current_blocks(h, ts)
    if value is None:
        value = button_value(blocks, action_id)
        assert value is not None, f"no {action_id} button on the card"
    started = time.monotonic()
    response = h.slack.block_action(
        action_id, value=value, message_ts=ts, message_blocks=blocks, channel_id=CHANNEL
    )
    assert response.status_code == 200
    assert time.monotonic() - started < 3.0
    return response


def ephemeral_text(call: Call) -> str:
    assert call.params.get("response_type") == "ephemeral"
    return str(call.params["text"])


def test_start_posts_one_card_a_thread_message_and_creates_the_flag(harness: Harness) -> None:
    started = time.monotonic()
    response = harness.slack.command("/rollout", f"start {FLAG}")
    assert response.status_code == 200
    assert time.monotonic() - started < 3.0
    assert response.text == ""  # acked without text; the answer comes via response_url

    reply = harness.fake.wait_for("response_url")[0]
    assert "Started" in ephemeral_text(reply)
    harness.fake.wait_for("chat.postMessage", 2)
    (card,) = harness.cards()
    assert card.params["channel"] == CHANNEL
    blocks = json.dumps(card.params["blocks"], ensure_ascii=False)
    assert FLAG in blocks
    assert "(1/4)" in blocks  # phase 1 of 4
    assert "0%" in blocks
    assert button_value(card.params["blocks"], "rollout_advance") is not None
    styles = button_styles(card.params["blocks"])
    assert styles == {"rollout_advance": "primary", "rollout_pause": None}
    assert card.response is not None
    (event,) = harness.wait_events(1)
    assert event.params["thread_ts"] == card.response["ts"]
    assert "started the rollout" in event.params["text"]
    assert harness.flag()["rollout_percentage"] == 0
    assert harness.fake.calls_to("chat.update") == []


def test_advance_command_edits_the_same_card(harness: Harness) -> None:
    ts = start(harness)
    advance(harness)

    # The shipped plan's Phase 2 starts with staff: on for the internal segment only
    (update,) = harness.fake.calls_to("chat.update")
    assert update.params["ts"] == ts
    assert update.params["channel"] == CHANNEL
    card = card_state(harness.fake, CHANNEL, ts)
    assert "Staff at 100% (internal segment)" in card and STAFF in card
    events = harness.wait_events(2)
    assert "from 0% to 0% (segments: internal 100%)" in events[-1].params["text"]
    flag = harness.flag()
    assert (flag["enabled"], flag["rollout_percentage"]) == (True, 0)
    assert flag["segment_rollouts"] == {"internal": 100}

    harness.clock.advance(timedelta(minutes=1))
    advance(harness)
    updates = harness.fake.calls_to("chat.update")
    assert [u.params["ts"] for u in updates] == [ts, ts]
    assert FIVE in card_state(harness.fake, CHANNEL, ts)
    assert len(harness.cards()) == 1  # edited, not reposted
    events = harness.wait_events(3)
    assert len(events) == 3
    assert all(e.params["thread_ts"] == ts for e in events)
    assert (
        "from 0% to 5%: Phase 2: Limited Beta, Enable for 5% of users." in events[-1].params["text"]
    )
    assert harness.flag()["rollout_percentage"] == 5
    assert harness.flag()["segment_rollouts"] == {"internal": 100}  # staff stay at 100%


def test_advance_button_once_stale_click_and_retry_change_nothing(harness: Harness) -> None:
    ts = start(harness)
    advance(harness)  # staff at 100%
    value = button_value(current_blocks(harness, ts), "rollout_advance")
    assert value is not None and json.loads(value)["step"] == 1

    click(harness, "rollout_advance", ts, value)
    first_click = harness.slack.last
    harness.fake.wait_for("chat.update", 2)
    assert FIVE in card_state(harness.fake, CHANNEL, ts)
    assert harness.flag()["rollout_percentage"] == 5
    responses = len(harness.responses())

    # The same button again: its value names step 2, the rollout is at step 3 now.
    click(harness, "rollout_advance", ts, value)
    refusal = harness.fake.wait_for("response_url", responses + 1)[-1]
    assert "out of date" in ephemeral_text(refusal)
    assert refusal.params.get("replace_original") is False

    # Slack (or a proxy) delivering the first click again.
    retry = harness.slack.resend(first_click, retry_num=1)
    assert retry.status_code == 200
    harness.quiet()
    assert len(harness.fake.calls_to("chat.update")) == 2
    assert len(harness.responses()) == responses + 1
    assert harness.flag()["rollout_percentage"] == 5


def test_repeated_command_runs_once(harness: Harness) -> None:
    start(harness)
    sent = harness.slack.last
    retry = harness.slack.resend(sent, retry_num=1)
    assert retry.status_code == 200
    harness.quiet()
    assert len(harness.cards()) == 1
    assert len(harness.responses()) == 1


def test_pause_and_resume_with_buttons_and_commands(harness: Harness) -> None:
    ts = start(harness)
    to_five_percent(harness)
    # Past the typed-advance guard (30 s), so the refusal below is about the pause.
    harness.clock.advance(timedelta(minutes=1))

    click(harness, "rollout_pause", ts)
    harness.fake.wait_for("chat.update", 3)
    card = card_state(harness.fake, CHANNEL, ts)
    assert "paused" in card.lower()
    blocks = current_blocks(harness, ts)
    assert button_value(blocks, "rollout_resume") is not None
    assert button_value(blocks, "rollout_advance") is None
    assert button_styles(blocks) == {"rollout_resume": "primary"}
    assert "paused the rollout" in harness.wait_events(4)[-1].params["text"]

    updates = len(harness.fake.calls_to("chat.update"))
    refusal = harness.command(f"advance {FLAG}")
    text = ephemeral_text(refusal)
    assert "paused" in text
    assert "/rollout resume" in text
    harness.quiet()
    assert len(harness.fake.calls_to("chat.update")) == updates
    assert harness.flag()["rollout_percentage"] == 5

    click(harness, "rollout_resume", ts)
    harness.fake.wait_for("chat.update", updates + 1)
    assert button_value(current_blocks(harness, ts), "rollout_advance") is not None
    assert "resumed" in harness.wait_events(5)[-1].params["text"]

    reply = harness.command(f"pause {FLAG}")
    assert "paused" in ephemeral_text(reply)
    harness.fake.wait_for("chat.update", updates + 2)
    assert button_value(current_blocks(harness, ts), "rollout_resume") is not None

    reply = harness.command(f"resume {FLAG}")
    assert "resumed" in ephemeral_text(reply)
    harness.fake.wait_for("chat.update", updates + 3)
    assert button_value(current_blocks(harness, ts), "rollout_pause") is not None
    assert harness.flag()["rollout_percentage"] == 5


def test_bad_input_is_explained_and_changes_nothing(harness: Harness) -> None:
    ts = start(harness)
    to_five_percent(harness)
    card = card_state(harness.fake, CHANNEL, ts)
    updates = len(harness.fake.calls_to("chat.update"))
    posts = len(harness.fake.calls_to("chat.postMessage"))

    cases = {
        "frobnicate": ["`frobnicate` is not a /rollout subcommand", "Subcommands:"],
        "start other-flag no-such-plan": ["no plan called `no-such-plan`", "Known plans"],
        f"set {FLAG} abc": ["`abc` is not a whole number from 0 to 100"],
        f"set {FLAG} 150": ["150% is more than 100%"],
        f"set {FLAG} 2": ["below the current 5%", "--force"],
        "advance no-such-flag": ["No rollout for `no-such-flag`"],
    }
    for text, pieces in cases.items():
        reply = ephemeral_text(harness.command(text))
        assert reply.startswith(":warning:"), (text, reply)
        for piece in pieces:
            assert piece in reply, (text, reply)
    harness.quiet()
    assert len(harness.fake.calls_to("chat.update")) == updates
    assert len(harness.fake.calls_to("chat.postMessage")) == posts
    assert card_state(harness.fake, CHANNEL, ts) == card
    assert harness.flag()["rollout_percentage"] == 5

    reply = ephemeral_text(harness.command(f"set {FLAG} 2 --force"))
    assert "from 5% to 2%" in reply
    harness.fake.wait_for("chat.update", updates + 1)
    assert "2%" in card_state(harness.fake, CHANNEL, ts)
    assert harness.flag()["rollout_percentage"] == 2


def test_status_list_and_help(harness: Harness) -> None:
    reply = harness.command("status")
    assert "No rollout is in progress" in ephemeral_text(reply)

    start(harness)
    reply = harness.command(f"status {FLAG}")
    assert FLAG in ephemeral_text(reply)
    blocks = reply.params["blocks"]
    assert any(b["type"] == "header" and FLAG in b["text"]["text"] for b in blocks)
    assert button_value(blocks, "rollout_advance") is not None

    reply = harness.command("status")
    assert f"`{FLAG}`" in ephemeral_text(reply)
    assert any(b["type"] == "header" for b in reply.params["blocks"])

    reply = harness.command("list")
    text = ephemeral_text(reply)
    assert "Rollouts" in text and FLAG in text
    assert not any(b["type"] == "header" for b in reply.params["blocks"])

    for text in ("help", ""):
        reply = harness.command(text)
        assert "/rollout start <flag> [plan]" in ephemeral_text(reply)
    assert len(harness.cards()) == 1


def test_button_on_private_status_card_refreshes_it(harness: Harness) -> None:
    ts = start(harness)
    reply = harness.command(f"status {FLAG}")
    value = button_value(reply.params["blocks"], "rollout_advance")
    responses = len(harness.responses())
    response = harness.slack.block_action(
        "rollout_advance", value=value, is_ephemeral=True, channel_id=CHANNEL
    )
    assert response.status_code == 200
    refreshed = harness.fake.wait_for("response_url", responses + 1)[-1]
    assert refreshed.params["replace_original"] is True
    assert STAFF in json.dumps(refreshed.params["blocks"], ensure_ascii=False)
    harness.fake.wait_for("chat.update")
    assert STAFF in card_state(harness.fake, CHANNEL, ts)


def test_forged_or_old_requests_are_refused(harness: Harness) -> None:
    forged = harness.slack.command("/rollout", f"start {FLAG}", secret_override="wrong")
    assert forged.status_code == 401
    old = harness.slack.command("/rollout", f"start {FLAG}", timestamp=int(time.time()) - 6 * 60)
    assert old.status_code == 401
    click = harness.slack.block_action(
        "rollout_advance", value='{"rollout": 1, "step": 0}', secret_override="wrong"
    )
    assert click.status_code == 401
    harness.quiet()
    assert harness.fake.calls == []
    assert harness.web.get(f"/flags/{FLAG}").status_code == 404


def test_rate_limited_update_is_retried(harness: Harness) -> None:
    ts = start(harness)
    harness.fake.fail_next("chat.update", status=429, retry_after=0)
    advance(harness)
    updates = harness.fake.wait_for("chat.update", 2)
    assert [u.status for u in updates] == [429, 200]
    assert STAFF in card_state(harness.fake, CHANNEL, ts)
    assert len(harness.cards()) == 1


def test_bake_time_passing_advances_once(harness: Harness) -> None:
    ts = start(harness)
    advance(harness)  # staff at 100%, bakes 1 day, then advances by itself
    card = card_state(harness.fake, CHANNEL, ts)
    assert "<!date^" in card  # when the next step is due, in the reader's time zone
    updates = len(harness.fake.calls_to("chat.update"))

    harness.clock.advance(timedelta(days=1, minutes=1))
    outcomes = harness.rollbot.rollouts.advance_due()
    assert len(outcomes) == 1
    harness.fake.wait_for("chat.update", updates + 1)
    assert FIVE in card_state(harness.fake, CHANNEL, ts)
    event = harness.wait_events(3)[-1]
    assert event.params["thread_ts"] == ts
    assert "bake time passed, advanced from 0% to 5%" in event.params["text"]
    assert harness.flag()["rollout_percentage"] == 5
    assert harness.flag()["segment_rollouts"] == {"internal": 100}

    calls = len(harness.fake.calls)
    assert harness.rollbot.rollouts.advance_due() == []
    harness.quiet()
    assert len(harness.fake.calls) == calls


def test_after_a_slack_outage_the_thread_reads_in_the_order_things_happened(
    harness: Harness,
) -> None:
    ts = start(harness)
    before = len(harness.thread_posts())
    # Slack fails the next post (and the SDK's one retry of it)...
    harness.fake.fail_next("chat.postMessage", status=500, times=2)
    harness.command(f"advance {FLAG}")
    harness.command(f"set {FLAG} 3 --force")  # ...but answers again for these two
    harness.command(f"pause {FLAG}")
    harness.quiet()
    assert len(harness.thread_posts()) == before  # nothing overtook the failed one
    harness.clock.advance(timedelta(seconds=30))  # past the retry's backoff
    assert harness.rollbot.rollouts.deliver_pending() == 3
    texts = [c.params["text"] for c in harness.thread_posts()[before:]]
    assert [c.params["thread_ts"] for c in harness.thread_posts()[before:]] == [ts] * 3
    assert "advanced" in texts[0] and "3%" in texts[1] and "paused" in texts[2].lower(), texts
    assert harness.rollbot.rollouts.deliver_pending() == 0
