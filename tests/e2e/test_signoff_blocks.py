"""Sign-off Block Kit (asks, the reject modal, checklist replies, cards with the chain)
stays within Slack's limits whatever the data."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.commands.approve import ApproveReply, ItemLine
from bot.domain.actions import Action, Emphasis
from bot.services.rollouts.views import Button
from bot.services.signoff.events import (
    ChainLine,
    ChainState,
    MetricReading,
    OpenChecklist,
    OpenItem,
    RoleStatus,
)
from bot.services.signoff.ports import Ask, AskStage, CheckButton, SignButton
from bot.slack.blocks import rollout_card
from bot.slack.signoff_blocks import ask_blocks, checklist_blocks, closed_blocks, reject_modal
from tests.e2e.test_blocks import view
from tests.fakes.slack_api import validate_blocks, validate_view

LONG = "x" * 5000
BUTTON = SignButton(1, 0, 1793696400000, "security_lead")


def ask(**changes: Any) -> Ask:
    base = Ask(
        stage=AskStage.REMINDER,
        flag_key="realtime-features",
        plan_title="Real-time Features migration",
        phase_name="Phase 1: Staging Deployment",
        step_name="Staging deployment (0% of production users)",
        percentage=0,
        gate_title="Approval Chain",
        role_name="Security Lead",
        requester="U_ALICE",
        chain=ChainState((ChainLine("Engineering Lead", RoleStatus.SIGNED, "U_ENG"),)),
        checklists=(
            OpenChecklist(
                "Code Readiness", 4, 5, (OpenItem("Security audit passed", "Security Lead"),)
            ),
        ),
        button=BUTTON,
        reminders_sent=2,
        waited=timedelta(days=1, hours=4),
        metrics=(MetricReading("Error rate low", "`error_rate` = 0.0004, within bounds"),),
    )
    return replace(base, **changes)


def test_ask_blocks_are_valid_even_with_very_long_texts() -> None:
    for a in (
        ask(),
        ask(stage=AskStage.ASK, metrics=()),
        ask(
            chain=ChainState((ChainLine(LONG, RoleStatus.WAITING),)),
            checklists=(OpenChecklist(LONG, 0, 1, (OpenItem(LONG, LONG, LONG),)),),
            metrics=(MetricReading(LONG, LONG),),
            role_name=LONG,
            gate_title=LONG,
        ),
    ):
        blocks = ask_blocks(a)
        assert validate_blocks(blocks) == []
        values = [e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
        assert values == [BUTTON.dumps(), BUTTON.dumps()]
    assert validate_blocks(closed_blocks(LONG)) == []


def test_reject_modal_is_a_valid_view_with_a_required_reason() -> None:
    modal = reject_modal(BUTTON.dumps(), LONG)
    assert validate_view(modal) == []
    (field,) = [b for b in modal["blocks"] if b["type"] == "input"]  # type: ignore[attr-defined]
    assert field["block_id"] == "reason" and not field.get("optional", False)
    assert modal["private_metadata"] == BUTTON.dumps()


def test_checklist_reply_stays_under_fifty_blocks() -> None:
    items = tuple(
        ItemLine(
            f"item {i} " + LONG,
            Button("Check " + LONG, Action.CHECK, CheckButton(1, "c", i).dumps()),
        )
        for i in range(80)
    )
    blocks = checklist_blocks(ApproveReply("*Checklists*", items=items))
    assert len(blocks) == 50 and validate_blocks(blocks) == []
    assert "32 more item(s) not shown" in str(blocks[-1])


def test_card_with_the_chain_and_sign_buttons_is_valid() -> None:
    buttons = [
        Button(f"Approve as {LONG}", Action.APPROVE, BUTTON.dumps(), Emphasis.CONFIRM),
        Button(f"Reject as {LONG}", Action.REJECT, BUTTON.dumps(), Emphasis.DESTRUCTIVE),
    ]
    card = rollout_card(view(notes=(LONG,) * 8, buttons=buttons))
    assert validate_blocks(card) == []
    assert len(card) <= 10  # at most five notes, so several cards fit in one reply
