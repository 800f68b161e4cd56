"""Block Kit builders stay within Slack's limits whatever the data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.commands.reply import Reply
from bot.domain.actions import Action, Emphasis
from bot.domain.message import Message, Strong
from bot.domain.rollout import RolloutState
from bot.services.rollouts.views import Button, RolloutView
from bot.slack.blocks import card_text, reply_blocks, rollout_card
from tests.fakes.slack_api import validate_blocks

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def view(rollout_id: int = 1, **changes: object) -> RolloutView:
    base = RolloutView(
        id=rollout_id,
        flag_key="realtime-features",
        plan_name="realtime-features",
        plan_title="Real-time Features migration",
        state=RolloutState.RUNNING,
        phase_name="Phase 2: Limited Beta",
        phase_number=2,
        phase_count=4,
        step_name="Enable for 5% of users",
        step_number=2,
        step_count=7,
        percentage=5,
        started_by="U_ALICE",
        started_at=NOW,
        next_step="Gradual increase to 25%",
        next_percentage=25,
        due_at=NOW,
        auto_advance=True,
        waiting_for=Message("Baking."),
        channel_id="C1",
        message_ts="1.1",
        version=1,
        buttons=[
            Button("Advance to 25%", Action.ADVANCE, '{"rollout": 1, "step": 1}', Emphasis.CONFIRM)
        ],
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_card_is_valid_and_shows_the_due_date() -> None:
    blocks = rollout_card(view())
    assert validate_blocks(blocks) == []
    assert "<!date^1793610000^{date_short_pretty} {time}|2026-11-02 09:00 UTC>" in str(blocks)


def test_the_waiting_line_ends_with_what_holds_the_rollout() -> None:
    held = view(held=(Message("sign-off ", Strong("Go"), " needs 1 more signature(s)"),))
    card = str(rollout_card(held))
    assert "*Waiting for:* Baking. Held: sign-off *Go* needs 1 more signature(s)." in card
    assert card_text(held).endswith("Baking. Held: sign-off *Go* needs 1 more signature(s).")


def test_long_texts_are_cut_to_slack_limits() -> None:
    long = "x" * 5000
    card = rollout_card(
        view(
            flag_key="f" * 200,
            plan_title=long,
            step_name=long,
            waiting_for=Message(long),
            buttons=[Button("y" * 200, Action.ADVANCE, "{}")],
        )
    )
    assert validate_blocks(card) == []
    assert len(card[-1]["elements"][0]["text"]["text"]) == 75


def test_many_cards_stay_under_fifty_blocks() -> None:
    reply = Reply("\n".join(["line " * 100] * 200), [view(i) for i in range(1, 40)])
    blocks = reply_blocks(reply, with_cards=True)
    assert len(blocks) <= 50
    assert validate_blocks(blocks) == []
    assert "more rollout(s) not shown" in str(blocks[-1])


def test_refusal_shows_no_cards() -> None:
    blocks = reply_blocks(Reply(":warning: no", [view()], error=True), with_cards=True)
    assert [b["type"] for b in blocks] == ["section"]
