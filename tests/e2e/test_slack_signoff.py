"""The sign-off chain end to end: signed Slack requests (block_actions, view_submission,
slash commands) into rollbot, direct messages and modals through the fake Slack Web API."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.store import audit
from tests.e2e.conftest import CHANNEL, FLAG, Harness, button_styles, button_value, card_state
from tests.fakes.slack_api import Call

ROLES = """
roles:
  eng_lead: {name: Engineering Lead, members: [U_ENG, U_ENG2]}
  product_manager: {name: Product Manager, members: [U_PM]}
  security_lead: {name: Security Lead, members: [U_SEC]}
  ops_lead: {name: Operations Lead, usergroup: S_OPS}
  cto: {name: CTO, members: [U_CTO]}
signoff:
  enforce_gates: true
"""
CHAIN = [("eng_lead", "U_ENG"), ("product_manager", "U_PM"), ("security_lead", "U_SEC")]
CHAIN += [("ops_lead", "U_OPS"), ("cto", "U_CTO")]
OWNERS = {"eng_lead": "U_ENG", "product_manager": "U_PM", "security_lead": "U_SEC"}
OWNERS |= {"ops_lead": "U_OPS", "cto": "U_CTO"}


@pytest.fixture
def harness_extra_yaml() -> str:
    return ROLES


@pytest.fixture
def h(harness: Harness) -> Harness:
    harness.fake.usergroups["S_OPS"] = ["U_OPS"]
    return harness


def start(h: Harness, user: str = "U_ALICE") -> str:
    """Start the rollout as `user`; return the card's ts once the first ask went out."""
    h.slack.command("/rollout", f"start {FLAG}", user_id=user)
    h.fake.wait_for("response_url")
    dms = wait_dms(h, "U_ENG", 1)
    assert dms
    (card,) = [c for c in h.cards() if c.params["channel"] == CHANNEL]
    assert card.response is not None
    return str(card.response["ts"])


def dms_to(h: Harness, user: str) -> list[Call]:
    """Direct messages (not thread replies) rollbot sent to `user`."""
    channel = "D" + user[1:]
    return [
        c
        for c in h.fake.calls_to("chat.postMessage")
        if c.ok and c.params.get("channel") == channel and "thread_ts" not in c.params
    ]


def wait_dms(h: Harness, user: str, count: int, timeout: float = 5.0) -> list[Call]:
    deadline = time.monotonic() + timeout
    while len(found := dms_to(h, user)) < count:
        assert time.monotonic() < deadline, f"expected {count} DM(s) to {user}: {found}"
        time.sleep(0.02)
    return found


def click_dm(h: Harness, user: str, action_id: str, dm: Call | None = None) -> httpx.Response:
    """`user` presses a button of the newest ask rollbot sent them."""
    dm = dm or dms_to(h, user)[-1]
    assert dm.response is not None
    blocks = dm.params["blocks"]
    value = button_value(blocks, action_id)
    assert value is not None, f"no {action_id} in the DM"
    return h.slack.block_action(
        action_id,
        value=value,
        user_id=user,
        channel_id=str(dm.response["channel"]),
        message_ts=str(dm.response["ts"]),
        message_blocks=blocks,
        block_id="signoff-ask-actions",
    )


def click_card(h: Harness, ts: str, action_id: str, user: str) -> httpx.Response:
    message = h.fake.message(CHANNEL, ts)
    assert message is not None
    value = button_value(message["blocks"], action_id)
    assert value is not None, f"no {action_id} on the card"
    return h.slack.block_action(
        action_id,
        value=value,
        user_id=user,
        channel_id=CHANNEL,
        message_ts=ts,
        message_blocks=message["blocks"],
    )


def reply_after(h: Harness, before: int) -> str:
    call = h.fake.wait_for("response_url", before + 1)[before]
    assert call.params.get("response_type") == "ephemeral"
    return str(call.params["text"])


def approvals(h: Harness) -> list[Any]:
    with h.rollbot.db.session() as s:
        return audit.events(s, subject_id=FLAG, action="signoff.approved")


def check_items(h: Harness, checklists: tuple[str, ...]) -> None:
    """Owners press Check on every open item of `checklists` (from `/approve checklist`)."""
    before = len(h.responses())
    h.slack.command("/approve", f"checklist {FLAG}", user_id="U_ENG")
    reply = h.fake.wait_for("response_url", before + 1)[before]
    for block in reply.params["blocks"]:
        accessory = block.get("accessory")
        if not accessory:
            continue
        value = json.loads(accessory["value"])
        if value["checklist"] not in checklists:
            continue
        plan = h.rollbot.plans.get("realtime-features")
        checklist = next(c for c in plan.checklists if c.id == value["checklist"])
        owner = OWNERS[checklist.items[value["item"]].owner]
        count = len(h.responses())
        h.slack.block_action(
            "checklist_check", value=accessory["value"], user_id=owner, is_ephemeral=True
        )
        assert "Checked" in reply_after(h, count)


def test_the_five_role_sequential_chain(h: Harness) -> None:
    ts = start(h)
    card = card_state(h.fake, CHANNEL, ts)
    assert "Approval Chain" in card and "Engineering Lead: waiting for signature" in card
    assert "Code Readiness: 0/5 done" in card  # the items holding the gate
    first = dms_to(h, "U_ENG")[0]
    assert "Phase 1: Staging Deployment" in json.dumps(first.params["blocks"])
    styles = {"signoff_approve": "primary", "signoff_reject": "danger"}
    assert button_styles(first.params["blocks"]) == styles
    on_card = button_styles(h.fake.message(CHANNEL, ts)["blocks"])  # type: ignore[index]
    assert styles.items() <= on_card.items()
    assert dms_to(h, "U_PM") == []  # sequential: not asked before the Engineering Lead signed
    assert dms_to(h, "U_ALICE") == []  # the requester is never asked

    for n, (_role, user) in enumerate(CHAIN):
        wait_dms(h, user, 1)
        before = len(h.responses())
        click_dm(h, user, "signoff_approve")
        assert "Signed" in reply_after(h, before)
        if n + 1 < len(CHAIN):
            wait_dms(h, CHAIN[n + 1][1], 1)
    assert [(e.actor, e.after["role"]) for e in approvals(h)] == [(u, r) for r, u in CHAIN]
    # The ops lead was found through the Slack user group.
    assert h.fake.calls_to("usergroups.users.list")
    # Each DM was closed once signed (chat.update of the DM).
    closed = [c for c in h.fake.calls_to("chat.update") if c.params["channel"].startswith("D")]
    assert any("Signed by <@U_ENG>" in c.params["text"] for c in closed)

    h.clock.advance(timedelta(minutes=1))
    reply = h.command(f"advance {FLAG}")
    assert "Infrastructure Readiness" in reply.params["text"]  # the checklists still hold it
    check_items(h, ("code-readiness", "infrastructure-readiness"))
    reply = h.command(f"advance {FLAG}")
    # Signed and checked: staff see it first (the shipped plan's staff step), then 5%
    assert "from 0% to 0% (segments: internal 100%)" in reply.params["text"], reply.params["text"]
    flag = h.flag()
    assert (flag["enabled"], flag["rollout_percentage"]) == (True, 0)
    assert flag["segment_rollouts"] == {"internal": 100}
    h.clock.advance(timedelta(minutes=1))
    reply = h.command(f"advance {FLAG}")
    assert "from 0% to 5%" in reply.params["text"], reply.params["text"]
    assert h.flag()["rollout_percentage"] == 5

    before = len(h.responses())
    h.slack.command("/approve", FLAG, user_id="U_ENG")
    text = reply_after(h, before)
    assert "| Role | Name | Signature | Date |" in text
    assert "| Engineering Lead | <@U_ENG> | approved via slack |" in text
    report = h.command(f"report {FLAG}")
    # The whole report is in the blocks (the `text` fallback is cut at 3,000 characters).
    shown = json.dumps(report.params["blocks"])
    assert "## Approval Chain" in shown and "Full Production Tasks" in shown


def test_rejection_with_a_reason_from_the_modal(h: Harness) -> None:
    ts = start(h)
    click_dm(h, "U_ENG", "signoff_reject")
    (opened,) = h.fake.wait_for("views.open")
    assert opened.ok
    view = opened.params["view"]
    assert view["callback_id"] == "signoff_reject_reason"

    # An empty reason keeps the modal open with an error under the field.
    empty = h.slack.view_submission(
        "signoff_reject_reason",
        {"reason": {"reason": "  "}},
        view["private_metadata"],
        user_id="U_ENG",
    )
    assert empty.status_code == 200 and empty.json()["response_action"] == "errors"

    updates = len(h.fake.calls_to("chat.update"))
    response = h.slack.view_submission(
        "signoff_reject_reason",
        {"reason": {"reason": "Load tests are still red"}},
        view["private_metadata"],
        user_id="U_ENG",
    )
    assert response.status_code == 200 and response.text in ("", "null")
    told = wait_dms(h, "U_ALICE", 1)
    assert "Load tests are still red" in told[0].params["text"]
    retry = h.slack.resend(h.slack.last, retry_num=1)  # Slack retrying the submission
    assert retry.status_code == 200
    h.fake.wait_for("chat.update", updates + 1)
    card = card_state(h.fake, CHANNEL, ts)
    assert "paused" in card and "Rejected by <@U_ENG>" in card
    assert h.rollbot.rollouts.status(FLAG).state.value == "paused"
    h.quiet()
    with h.rollbot.db.session() as s:
        assert len(audit.events(s, subject_id=FLAG, action="signoff.rejected")) == 1
    assert len(dms_to(h, "U_ALICE")) == 1


def test_non_member_requester_double_click_retry_and_stale_button(h: Harness) -> None:
    ts = start(h, user="U_ENG2")  # an Engineering Lead starts it: he may not sign it
    before = len(h.responses())
    click_card(h, ts, "signoff_approve", "U_OTHER")
    text = reply_after(h, before)
    assert "Only someone holding the role Engineering Lead" in text and "<@U_ENG>" in text

    before = len(h.responses())
    click_card(h, ts, "signoff_approve", "U_ENG2")
    assert "You started this rollout" in reply_after(h, before)
    assert dms_to(h, "U_ENG2") == []  # and is not asked to

    dm = dms_to(h, "U_ENG")[0]
    before = len(h.responses())
    click_dm(h, "U_ENG", "signoff_approve", dm)
    first_click = h.slack.last
    assert "Signed" in reply_after(h, before)
    wait_dms(h, "U_PM", 1)

    before = len(h.responses())
    click_dm(h, "U_ENG", "signoff_approve", dm)  # a second click on the same button
    assert "already signed" in reply_after(h, before)

    retry = h.slack.resend(first_click, retry_num=1)  # Slack retrying the first click
    assert retry.status_code == 200
    h.quiet()
    assert len(h.responses()) == before + 1
    assert len(approvals(h)) == 1
    assert len(dms_to(h, "U_PM")) == 1

    # Everyone signs, the gate passes, the rollout moves on: the old button is stale.
    for _role, user in CHAIN[1:]:
        wait_dms(h, user, 1)
        count = len(h.responses())
        click_dm(h, user, "signoff_approve")
        assert "Signed" in reply_after(h, count)
    check_items(h, ("code-readiness", "infrastructure-readiness"))
    h.clock.advance(timedelta(minutes=1))
    # The gate passed: the rollout moves on to the staff step
    staff = h.command(f"advance {FLAG}").params["text"]
    assert "from 0% to 0% (segments: internal 100%)" in staff, staff
    assert h.flag()["segment_rollouts"] == {"internal": 100}
    before = len(h.responses())
    click_dm(h, "U_ENG", "signoff_approve", dm)
    text = reply_after(h, before)
    assert "out of date" in text and "Nothing was changed" in text
    assert len(approvals(h)) == 5
