"""`/rollback` end to end: signed slash command -> confirmation modal (views.open) ->
signed view_submission -> runbook, reported in the rollout's thread in the fake Slack."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.clock import ManualClock
from bot.container import Rollbot, slack_chat
from bot.domain.actions import Action
from bot.domain.actor import Actor, Via
from bot.slack.app import build_slack_app
from bot.slack.blocks import rollout_card
from bot.slack.notifier import build_client
from bot.slack.rollback_listeners import (
    CALLBACK_ID,
    REASON_ACTION,
    REASON_BLOCK,
    RUNBOOK_ACTION,
    RUNBOOK_BLOCK,
)
from bot.web.app import create_app
from tests.asgi_thread import serving
from tests.e2e.conftest import SIGNING_SECRET, button_styles
from tests.fakes.slack_api import Call, FakeSlack
from tests.fakes.slack_requests import SlackRequestSender
from tests.rollback_support import FLAG, PLAN, RUNBOOKS_PLAN, build_rollbot, dying_at

CHANNEL = "C_RELEASES"
ROLES = (
    "roles:\n  ops:\n    name: Operations Lead\n    members: [U_OPS]\n"
    "permissions:\n  rollback: [ops]\n"
)


class Bot:
    """rollbot served by uvicorn, Slack requests in, fake Slack Web API out."""

    def __init__(self, fake: FakeSlack, rollbot: Rollbot, sender: SlackRequestSender) -> None:
        self.fake, self.rollbot, self.slack = fake, rollbot, sender

    def command(self, name: str, text: str, user: str = "U_OPS") -> Call:
        before = len(self.fake.calls_to("response_url"))
        started = time.monotonic()
        response = self.slack.command(name, text, user_id=user, channel_id=CHANNEL)
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < 3.0
        return self.fake.wait_for("response_url", before + 1)[before]

    def open_modal(self, text: str, user: str = "U_OPS") -> dict[str, Any]:
        before = len(self.fake.calls_to("views.open"))
        response = self.slack.command("/rollback", text, user_id=user, channel_id=CHANNEL)
        assert response.status_code == 200
        call = self.fake.wait_for("views.open", before + 1)[before]
        view: dict[str, Any] = call.params["view"]
        return view

    def thread(self) -> list[str]:
        return [
            str(c.params["text"])
            for c in self.fake.calls_to("chat.postMessage")
            if c.ok and "thread_ts" in c.params
        ]

    def wait_thread(self, done: Callable[[list[str]], bool], timeout: float = 10) -> list[str]:
        deadline = time.monotonic() + timeout
        while not done(texts := self.thread()):
            assert time.monotonic() < deadline, texts
            time.sleep(0.05)
        return texts


def serve(fake: FakeSlack, tmp_path: Path, extra_yaml: str, plan: str = PLAN) -> Iterator[Bot]:
    rollbot = build_rollbot(
        tmp_path,
        f"sqlite:///{tmp_path}/rollbot.db",
        ManualClock(),
        None,
        plan=plan,
        extra_yaml=extra_yaml,
        env={
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
        },
        chat=lambda settings: slack_chat(settings).ports,
    )
    client = build_client("xoxb-test", fake.api_url)
    slack_app = build_slack_app(rollbot, client)
    app = create_app(rollbot, slack_app)
    try:
        with serving(app, lifespan="off") as url:
            fake.clear()
            sender = SlackRequestSender(url, SIGNING_SECRET, fake.response_url)
            try:
                yield Bot(fake, rollbot, sender)
            finally:
                sender.close()
    finally:
        slack_app.work.close()
        rollbot.db.dispose()


@pytest.fixture
def bot(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[Bot]:
    yield from serve(fake_slack, tmp_path, ROLES)


def start(bot: Bot) -> None:
    reply = bot.command("/rollout", f"start {FLAG}")
    assert "Started" in reply.params["text"], reply.params["text"]


def submit(
    bot: Bot, view: dict[str, Any], reason: str, user: str = "U_OPS", runbook: str | None = None
) -> httpx.Response:
    """Submit the rollback modal `view` with `reason`, and `runbook` chosen in its menu."""
    values: dict[str, Any] = {REASON_BLOCK: {REASON_ACTION: reason}}
    if runbook is not None:
        option = {"value": runbook, "text": {"type": "plain_text", "text": runbook}}
        values[RUNBOOK_BLOCK] = {
            RUNBOOK_ACTION: {"type": "static_select", "selected_option": option}
        }
    return bot.slack.view_submission(
        CALLBACK_ID, values, private_metadata=view["private_metadata"], user_id=user
    )


def flag_doc(bot: Bot) -> tuple[bool, int]:
    doc = bot.rollbot.flags.get(FLAG)
    assert doc is not None
    return doc.enabled, doc.rollout_percentage


def test_rollback_through_the_modal_runs_the_runbook_and_reports_in_the_thread(
    bot: Bot,
) -> None:
    start(bot)
    view = bot.open_modal(f"{FLAG} users see errors")
    assert view["callback_id"] == CALLBACK_ID
    shown = json.dumps(view["blocks"])
    assert "1. Disable the flag" in shown and "3. Deploy previous" in shown
    reason_input = view["blocks"][1]["element"]
    assert reason_input["initial_value"] == "users see errors"
    assert flag_doc(bot) == (True, 5)  # the modal alone changes nothing
    started = time.monotonic()
    response = submit(bot, view, "users see errors after the 5% step")
    assert response.status_code == 200 and time.monotonic() - started < 3.0
    assert response.text == ""  # plain ack: the modal closes
    texts = bot.wait_thread(lambda t: any("complete" in x for x in t))
    assert any("*Rollback of `chat-v2`* started by <@U_OPS>" in t for t in texts)
    assert any("users see errors after the 5% step" in t for t in texts)
    assert sum("started:" in t for t in texts) == 3
    assert flag_doc(bot) == (False, 0)
    ephemeral = bot.fake.wait_for("chat.postEphemeral")[0]
    assert "is rolled back" in ephemeral.params["text"]
    # Again: says so, runs nothing, opens no modal.
    opened = len(bot.fake.calls_to("views.open"))
    reply = bot.command("/rollback", f"{FLAG} once more")
    assert "already rolled back; nothing was run" in reply.params["text"]
    time.sleep(0.2)
    assert len(bot.fake.calls_to("views.open")) == opened


def test_only_the_roles_config_names_may_roll_back(bot: Bot) -> None:
    start(bot)
    reply = bot.command("/rollback", f"{FLAG} I think it is broken", user="U_ALICE")
    assert "Rolling back needs the role Operations Lead" in reply.params["text"]
    assert bot.fake.calls_to("views.open") == []
    # A modal opened by someone allowed, submitted by someone who is not: refused in the modal.
    view = bot.open_modal(FLAG)
    response = submit(bot, view, "sneaky", user="U_ALICE")
    body = response.json()
    assert body["response_action"] == "errors"
    assert "Operations Lead" in body["errors"][REASON_BLOCK]
    assert flag_doc(bot) == (True, 5)


def test_the_reason_is_required(bot: Bot) -> None:
    start(bot)
    view = bot.open_modal(FLAG)
    assert "initial_value" not in view["blocks"][1]["element"]
    body = submit(bot, view, "  ").json()
    assert body["response_action"] == "errors" and REASON_BLOCK in body["errors"]
    assert flag_doc(bot) == (True, 5)


def test_rollback_help_and_unknown_flags(bot: Bot) -> None:
    assert "Usage:" in bot.command("/rollback", "help").params["text"]
    reply = bot.command("/rollback", "no-such-flag broken")
    assert "`no-such-flag` has no rollout to roll back" in reply.params["text"]
    assert bot.fake.calls_to("views.open") == []


def test_a_rollback_waiting_at_an_unsafe_step_is_decided_with_the_cards_button(
    fake_slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unsafe = PLAN.replace(
        "    run: echo deployed\n    timeout: 5s\n",
        "    run: echo deployed\n    timeout: 5s\n    idempotent: false\n",
    )
    served = serve(fake_slack, tmp_path, ROLES, plan=unsafe)
    bot = next(served)
    try:
        start(bot)
        with dying_at(monkeypatch, bot.rollbot, "Step 3/3 started"):
            bot.rollbot.rollback.roll_back(FLAG, Actor("U_OPS", Via.SLACK), "errors")
        clock = bot.rollbot.clock
        assert isinstance(clock, ManualClock)
        clock.advance(timedelta(minutes=10))
        bot.rollbot.rollback.resume_interrupted()
        card = bot.rollbot.rollouts.status(FLAG)
        (rerun,) = [b for b in card.buttons if b.action is Action.RERUN_STEP]
        assert button_styles(rollout_card(card)) == {
            "rollback_rerun_step": "primary",
            "rollback_skip_step": None,
            "rollback_abort": "danger",
        }
        before = len(bot.fake.calls_to("response_url"))
        click = bot.slack.block_action(
            "rollback_rerun_step", rerun.value, user_id="U_OPS", channel_id=CHANNEL
        )
        assert click.status_code == 200
        reply = bot.fake.wait_for("response_url", before + 1)[before]
        assert "is rolled back: 3 steps done" in reply.params["text"]
        threads = [c.params["text"] for c in bot.fake.calls_to("chat.postMessage")]
        assert any("re-runs step *Deploy previous*" in t for t in threads)
        assert any("Step 3/3 *Deploy previous* done" in t for t in threads)
    finally:
        served.close()


@pytest.fixture
def runbooks_bot(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[Bot]:
    yield from serve(fake_slack, tmp_path, ROLES, plan=RUNBOOKS_PLAN)


def select_menu(view: dict[str, Any]) -> dict[str, Any]:
    (block,) = [b for b in view["blocks"] if b.get("block_id") == RUNBOOK_BLOCK]
    element: dict[str, Any] = block["element"]
    return element


def test_the_modal_offers_the_plans_runbooks_in_a_select_menu(runbooks_bot: Bot) -> None:
    bot = runbooks_bot
    start(bot)
    view = bot.open_modal(f"{FLAG} memory keeps growing")
    menu = select_menu(view)
    assert menu["type"] == "static_select" and menu["action_id"] == RUNBOOK_ACTION
    assert [o["value"] for o in menu["options"]] == ["full", "restart", "collab-off"]
    assert menu["initial_option"]["value"] == "full"
    shown = json.dumps(view["blocks"])
    assert "*restart* runs:" in shown and "Restart the servers" in shown
    assert "set the flag `chat-v2-collab`" in shown
    # Typed after the flag, a runbook is preselected and its steps lead the modal.
    typed = bot.open_modal(f"{FLAG} restart memory keeps growing")
    assert select_menu(typed)["initial_option"]["value"] == "restart"
    assert "Run the runbook `restart`" in typed["blocks"][0]["text"]["text"]
    reason = next(b for b in typed["blocks"] if b.get("block_id") == REASON_BLOCK)
    assert reason["element"]["initial_value"] == "memory keeps growing"
    # Submitted with the restart runbook chosen: the flag stays on, the rollout pauses.
    response = submit(bot, typed, "memory keeps growing", runbook="restart")
    assert response.status_code == 200 and response.text == ""
    texts = bot.wait_thread(lambda t: any("complete" in x for x in t))
    assert any("*Runbook `restart` for `chat-v2`* at" in t for t in texts)
    assert any("stays on at 5% and its rollout is paused" in t for t in texts)
    assert flag_doc(bot) == (True, 5)
    assert bot.rollbot.rollouts.status(FLAG).state.value == "paused"
    ephemeral = bot.fake.wait_for("chat.postEphemeral")[0]
    assert "Runbook `restart` ran for `chat-v2`" in ephemeral.params["text"]
    assert "still running, paused" in ephemeral.params["text"]


def test_a_runbook_that_cannot_run_is_refused_in_the_menu(runbooks_bot: Bot) -> None:
    bot = runbooks_bot
    start(bot)
    view = bot.open_modal(FLAG)
    bot.rollbot.rollback.roll_back(FLAG, Actor("U_OPS", Via.SLACK), "errors")  # meanwhile
    body = submit(bot, view, "conflicts between editors", runbook="collab-off").json()
    assert body["response_action"] == "errors"
    assert "partial runbook collab-off was not run" in body["errors"][RUNBOOK_BLOCK]
    assert bot.rollbot.flags.get("chat-v2-collab") is None
