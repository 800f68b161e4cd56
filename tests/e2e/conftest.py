"""End to end: signed Slack requests over real HTTP into rollbot served by uvicorn, with
a fake Slack Web API (also real HTTP) recording what rollbot sends back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.clock import ManualClock
from bot.config.settings import load_settings
from bot.container import Rollbot, new_telemetry, slack_chat
from bot.slack.app import build_slack_app
from bot.slack.work import SlackWork
from bot.web.app import create_app
from tests.asgi_thread import serving
from tests.conftest import NO_GATES, Providers
from tests.fakes.slack_api import Call, FakeSlack, fake_slack_fixture
from tests.fakes.slack_requests import SlackRequestSender

REPO_ROOT = Path(__file__).resolve().parents[2]
PLANS_DIR = REPO_ROOT / "config" / "plans"
SIGNING_SECRET = "secret"
CHANNEL = "C_RELEASES"
FLAG = "realtime-features"

fake_slack = pytest.fixture(fake_slack_fixture)


@dataclass
class Harness:
    """A running rollbot wired to the fake Slack, and the means to talk to it."""

    fake: FakeSlack
    slack: SlackRequestSender
    rollbot: Rollbot
    clock: ManualClock
    web: httpx.Client
    # The Bolt app's pool running the work after each ack.
    work: SlackWork

    def flag(self, key: str = FLAG) -> dict[str, Any]:
        """The flag document served at GET /flags/{key}."""
        response = self.web.get(f"/flags/{key}")
        assert response.status_code == 200, response.text
        doc: dict[str, Any] = response.json()
        return doc

    def cards(self) -> list[Call]:
        """chat.postMessage calls that posted a card (not thread replies)."""
        return [
            c
            for c in self.fake.calls_to("chat.postMessage")
            if c.ok and "thread_ts" not in c.params
        ]

    def thread_posts(self) -> list[Call]:
        """chat.postMessage calls that replied in a card's thread."""
        return [
            c for c in self.fake.calls_to("chat.postMessage") if c.ok and "thread_ts" in c.params
        ]

    def wait_events(self, count: int, timeout: float = 5.0) -> list[Call]:
        """Wait until `count` thread messages were posted; return them all."""
        deadline = time.monotonic() + timeout
        while len(events := self.thread_posts()) < count:
            assert time.monotonic() < deadline, f"expected {count} thread messages: {events}"
            time.sleep(0.02)
        return events

    def responses(self) -> list[Call]:
        """What rollbot sent to response_urls (ephemeral replies)."""
        return self.fake.calls_to("response_url")

    def command(self, text: str, **kwargs: Any) -> Call:
        """Run `/rollout <text>`, check the ack, and return the ephemeral reply."""
        before = len(self.responses())
        started = time.monotonic()
        response = self.slack.command("/rollout", text, **kwargs)
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < 3.0
        return self.fake.wait_for("response_url", before + 1)[before]

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until the work of every request acked so far is done."""
        assert self.work.wait_idle(timeout), f"the Slack work was not done within {timeout} s"

    def quiet(self, seconds: float = 0.3) -> None:
        """Let work done after an ack finish (to check that nothing more happens)."""
        self.drain()
        time.sleep(seconds)


def card_state(fake: FakeSlack, channel: str, ts: str) -> str:
    """All text of a card as it stands now (after edits), for assertions."""
    message = fake.message(channel, ts)
    assert message is not None
    return json.dumps(message.get("blocks", []), ensure_ascii=False)


def button_value(blocks: list[dict[str, Any]], action_id: str) -> str | None:
    """The value of the button with `action_id` in `blocks`, or None."""
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return str(element["value"])
    return None


def button_styles(blocks: list[dict[str, Any]]) -> dict[str, str | None]:
    """Each button's Block Kit style (None: Slack's default look), by action id."""
    return {
        str(element["action_id"]): element.get("style")
        for block in blocks
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    }


@pytest.fixture
def harness_extra_yaml() -> str:
    """More config for the harness (a test module overrides this fixture, e.g. with roles)."""
    return ""


@pytest.fixture
def harness(
    fake_slack: FakeSlack, tmp_path: Path, harness_extra_yaml: str, providers: Providers
) -> Iterator[Harness]:
    """rollbot (SQLite, manual clock) served by a real uvicorn on an ephemeral port."""
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        "rollouts:\n"
        f"  plans_dir: {PLANS_DIR}\n"
        "  default_plan: realtime-features\n"
        "  advance_guard: 30s\n"
        "slack:\n"
        "  rollout_channel: null\n"
        + harness_extra_yaml
        + ("" if "signoff:" in harness_extra_yaml else NO_GATES),
        encoding="utf-8",
    )
    settings = load_settings(
        env={
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "DATABASE_URL": f"sqlite:///{tmp_path}/rollbot.db",
            "ROLLBOT_API_TOKEN": "tok",
        },
        config_path=config,
    )
    clock = ManualClock()
    telemetry = new_telemetry()  # Slack's client counts its calls into rollbot's metrics
    slack = slack_chat(settings, telemetry)
    rollbot = providers.build(settings, clock, slack.ports, telemetry=telemetry)
    slack_app = build_slack_app(rollbot, slack.client)
    app = create_app(rollbot, slack_app)
    try:
        with serving(app, lifespan="off") as base_url:
            fake_slack.clear()  # forget auth.test from Bolt's start-up
            sender = SlackRequestSender(base_url, SIGNING_SECRET, fake_slack.response_url)
            web = httpx.Client(base_url=base_url, timeout=10)
            try:
                yield Harness(fake_slack, sender, rollbot, clock, web, slack_app.work)
            finally:
                web.close()
                sender.close()
                slack_app.work.close()
    finally:
        rollbot.db.dispose()
