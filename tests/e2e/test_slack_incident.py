"""A whole incident through Slack's HTTP interface: signed `/incident` commands, button
clicks and a :pushpin: event into rollbot served by uvicorn, against the fake Slack Web
API, with a fake status page and a fake pager. The clock is the test's."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from bot.container import build, slack_chat
from bot.domain.actions import Action
from bot.services.incidents.ports import OnCall
from bot.slack.actions import action_id
from bot.slack.app import build_slack_app
from bot.slack.mrkdwn import mrkdwn
from bot.store import incidents as store
from tests.conftest import Providers
from tests.e2e.conftest import CHANNEL, Harness, button_styles, button_value
from tests.fakes.incidents import ROUTING_KEY, FakePager, FakeStatusPage
from tests.fakes.slack_api import Call

PUBLISH, EDIT = action_id(Action.PUBLISH), action_id(Action.EDIT)

NAME = "inc-20261102-checkout-api-errors"


@dataclass
class Incident:
    h: Harness
    page: FakeStatusPage
    pager: FakePager

    def command(self, text: str, channel_id: str = CHANNEL, user_id: str = "U_ALICE") -> str:
        """Run `/incident <text>`, check the ack came fast, return the private answer
        (its text and its blocks)."""
        before = len(self.h.responses())
        started = time.monotonic()
        response = self.h.slack.command("/incident", text, channel_id=channel_id, user_id=user_id)
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < 3.0
        reply = self.h.fake.wait_for("response_url", before + 1, timeout=10)[before]
        return str(reply.params["text"]) + json.dumps(reply.params.get("blocks"))

    def channel(self) -> str:
        return next(c for c, obj in self.h.fake.channels.items() if obj["name"] == NAME)

    def texts_in(self, channel: str) -> str:
        return json.dumps(self.h.fake.messages_in(channel), ensure_ascii=False)


@pytest.fixture
def pager() -> FakePager:
    return FakePager(OnCall("Carol Chen", "carol@example.com", "PCAROL1"))


@pytest.fixture
def providers(status_page: FakeStatusPage, pager: FakePager) -> Providers:
    """The harness pages through the fake pager; the fake is the only status page."""
    return Providers(pager=pager, status_pages=[status_page])


@pytest.fixture
def incident(harness: Harness, status_page: FakeStatusPage, pager: FakePager) -> Incident:
    return Incident(harness, status_page, pager)


def declare(inc: Incident) -> str:
    answer = inc.command("declare sev2 Checkout API errors")
    assert "Declared SEV2 *Checkout API errors*" in answer
    return inc.channel()


def draft_dm(inc: Incident) -> Call:
    """The DM carrying the draft's Publish / Edit buttons."""
    dms = [
        c
        for c in inc.h.fake.calls_to("chat.postMessage")
        if str(c.params.get("channel", "")).startswith("D") and "blocks" in c.params
    ]
    assert dms, "no draft DM was sent"
    return dms[0]


def test_a_whole_incident(incident: Incident) -> None:
    h, fake = incident.h, incident.h.fake
    channel = declare(incident)

    # The channel, the commander (on call, found by email) invited, the card posted and pinned.
    [create] = fake.calls_to("conversations.create")
    assert create.params["name"] == NAME and len(NAME) <= 80
    [invite] = fake.calls_to("conversations.invite")
    assert set(invite.params["users"].split(",")) == {"U_CAROL", "U_ALICE"}
    [lookup] = fake.calls_to("users.lookupByEmail")
    assert lookup.params["email"] == "carol@example.com"
    card = next(c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == channel)
    assert card.response is not None
    card_ts = str(card.response["ts"])
    assert (channel, card_ts) in fake.pins
    assert "Checkout API errors" in json.dumps(card.params["blocks"])

    # The channel it was declared in hears where the incident lives.
    announced = incident.texts_in(CHANNEL)
    assert "SEV2 incident declared: *Checkout API errors*" in announced
    assert f"<#{channel}>" in announced

    # Paged with a stable dedup key, in Events API v2 shape.
    [trigger] = incident.pager.events
    key = h.rollbot.incidents.incidents()[0].key
    assert trigger["routing_key"] == ROUTING_KEY
    assert trigger["event_action"] == "trigger" and trigger["dedup_key"] == key
    assert trigger["payload"]["summary"] == "[SEV2] Checkout API errors"
    assert trigger["payload"]["source"] == "rollbot"
    assert trigger["payload"]["severity"] == "error"

    # The commander got the draft with Publish / Edit.
    dm = draft_dm(incident)
    assert dm.params["channel"] == "D_CAROL"
    assert button_value(dm.params["blocks"], PUBLISH) is not None
    assert button_value(dm.params["blocks"], EDIT) is not None
    assert button_styles(dm.params["blocks"]) == {PUBLISH: "primary", EDIT: None}

    # Nobody publishes; at four minutes rollbot does, and the page answers 500 first.
    incident.page.fail_next(1)
    h.clock.advance(timedelta(minutes=4))
    h.rollbot.incidents.run_due()
    assert incident.page.published == [] and len(incident.page.attempts) == 1
    h.clock.advance(timedelta(seconds=5))
    h.rollbot.incidents.run_due()
    [published] = incident.page.published
    assert published.status == "investigating" and published.incident_key == key
    # The channel hears where it went and why it was late (the page answered 500 first).
    said = incident.texts_in(channel)
    assert "Status update published to statuspage, after 1 failed attempt" in said, said
    assert "(investigating)" in said
    assert "HTTP 500" in incident.command("timeline", channel_id=channel)
    dm_now = fake.message("D_CAROL", str(dm.response["ts"]))  # type: ignore[index]
    assert dm_now is not None and "published" in json.dumps(dm_now["blocks"])
    assert button_value(dm_now["blocks"], PUBLISH) is None

    # Someone pins a message in the incident channel: it lands on the timeline.
    ts = fake.post_as_user(
        channel, "U_BOB", "api-7 is out of memory", ts=f"{h.clock.now().timestamp():.6f}"
    )
    response = h.slack.reaction_added("pushpin", ts, user_id="U_ALICE", channel_id=channel)
    assert response.status_code == 200
    fake.wait_for("chat.getPermalink")
    deadline = time.monotonic() + 5
    while "api-7 is out of memory" not in (
        timeline := incident.command("timeline", channel_id=channel)
    ):
        assert time.monotonic() < deadline, timeline
        time.sleep(0.05)
    assert f"p{ts.replace('.', '')}" in timeline  # the permalink

    # Status moves on, then resolve: page resolved, status page resolved, post-mortem uploaded.
    h.clock.advance(timedelta(minutes=6))
    assert "monitoring" in incident.command(
        "update monitoring Rolled back api to 4.1", channel_id=channel
    )
    h.clock.advance(timedelta(minutes=20))
    assert "Resolved" in incident.command(
        "resolve Bad deploy of api 4.2 rolled back", channel_id=channel
    )
    assert [e["event_action"] for e in incident.pager.events] == [
        "trigger",
        "acknowledge",
        "resolve",
    ]
    assert [u.status for u in incident.page.published] == [
        "investigating",
        "monitoring",
        "resolved",
    ]
    fake.wait_for("files.completeUploadExternal")
    [uploaded] = [f for f in fake.uploaded_files.values() if f.completed]
    assert uploaded.channel_id == channel and uploaded.filename == f"postmortem-{key}.md"
    markdown = (uploaded.content or b"").decode()
    assert "# Post-mortem: Checkout API errors" in markdown
    assert "| First status update | 4m 5s |" in markdown
    assert "| Mitigated | 10m 5s |" in markdown and "| Resolved | 30m 5s |" in markdown
    assert "api-7 is out of memory" in markdown and "Bad deploy of api 4.2 rolled back" in markdown
    assert "## Root cause" in markdown and "## Action items" in markdown
    final = fake.message(channel, card_ts)
    assert final is not None and "Resolved" in json.dumps(final["blocks"])


def test_the_commander_publishes_from_the_dm(incident: Incident) -> None:
    h = incident.h
    declare(incident)
    dm = draft_dm(incident)
    value = button_value(dm.params["blocks"], PUBLISH)
    response = h.slack.block_action(
        PUBLISH,
        value=value,
        user_id="U_CAROL",
        channel_id="D_CAROL",
        message_ts=str(dm.response["ts"]),  # type: ignore[index]
        message_blocks=dm.params["blocks"],
    )
    assert response.status_code == 200
    # The click's work done, the publication recorded too: the page has it before rollbot
    # marks it published, and a clock moved past the click's 30 s claim in between would
    # let the automatic publication below take it again.
    h.drain()
    assert len(incident.page.published) == 1
    h.clock.advance(timedelta(minutes=5))
    h.rollbot.incidents.run_due()
    assert len(incident.page.published) == 1  # the automatic publication found nothing to do


def test_declare_without_arguments_opens_the_form(incident: Incident) -> None:
    h = incident.h
    response = h.slack.command("/incident", "declare")
    assert response.status_code == 200
    [opened] = h.fake.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == "incident_declare_modal"
    values: dict[str, Any] = {
        "title": {"title": "Search is slow"},
        "severity": {"severity": {"type": "static_select", "selected_option": {"value": "sev3"}}},
        "impact": {"impact": {"type": "static_select", "selected_option": {"value": "minor"}}},
        "components": {"components": "search, api"},
    }
    assert h.slack.view_submission("incident_declare_modal", values).status_code == 200
    h.fake.wait_for("conversations.create")
    deadline = time.monotonic() + 5
    while not h.rollbot.incidents.incidents():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    [view] = h.rollbot.incidents.incidents()
    assert (view.severity, view.impact, view.components) == ("sev3", "minor", ["search", "api"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("declare sev9 Broken", "`sev9` is not a severity"),
        ("update fixed all good", "is not an incident status"),
        ("note hello", "works in an incident's own channel"),
        ("resolve", "works in an incident's own channel"),
        ("frobnicate", "is not an /incident subcommand"),
    ],
)
def test_bad_input_gets_usage_and_changes_nothing(
    incident: Incident, text: str, expected: str
) -> None:
    answer = incident.command(text)
    assert expected in answer and ":warning:" in answer
    assert incident.h.rollbot.incidents.incidents() == []
    assert incident.h.fake.calls_to("conversations.create") == []


def test_other_reactions_and_pins_elsewhere_are_answered_and_ignored(incident: Incident) -> None:
    h = incident.h
    ts = h.fake.post_as_user(CHANNEL, "U_BOB", "lunch?")
    assert h.slack.reaction_added("thumbsup", ts, channel_id=CHANNEL).status_code == 200
    assert h.slack.reaction_added("pushpin", ts, channel_id=CHANNEL).status_code == 200
    h.quiet()
    assert h.fake.calls_to("conversations.history") == []  # not an incident channel
    assert h.rollbot.incidents.incidents() == []


def test_the_commander_edits_the_draft_in_a_form(incident: Incident) -> None:
    h = incident.h
    declare(incident)
    dm = draft_dm(incident)
    value = button_value(dm.params["blocks"], EDIT)
    response = h.slack.block_action(
        EDIT,
        value=value,
        user_id="U_CAROL",
        channel_id="D_CAROL",
        message_ts=str(dm.response["ts"]),  # type: ignore[index]
        message_blocks=dm.params["blocks"],
    )
    assert response.status_code == 200
    [opened] = h.fake.wait_for("views.open")
    form = opened.params["view"]
    assert form["callback_id"] == "incident_edit_modal"
    empty = h.slack.view_submission(
        "incident_edit_modal", {"message": {"message": "  "}}, form["private_metadata"]
    )
    assert empty.json()["response_action"] == "errors"  # nothing saved, the form stays open
    updates = len(h.fake.calls_to("chat.update"))
    saved = h.slack.view_submission(
        "incident_edit_modal",
        {"message": {"message": "Checkout fails for some card payments; we are on it."}},
        form["private_metadata"],
        user_id="U_CAROL",
    )
    assert saved.status_code == 200 and saved.text == ""
    h.fake.wait_for("chat.update", updates + 1)
    h.clock.advance(timedelta(minutes=4))
    h.rollbot.incidents.run_due()
    [published] = incident.page.published
    assert published.message == "Checkout fails for some card payments; we are on it."


def test_status_in_the_channel_shows_the_card(incident: Incident) -> None:
    channel = declare(incident)
    answer = incident.command("status", channel_id=channel)
    assert "no status update published yet" in answer and "incident_ack" in answer


def test_a_restart_mid_incident_still_publishes_before_the_deadline(incident: Incident) -> None:
    h = incident.h
    channel = declare(incident)
    h.clock.advance(timedelta(minutes=2))
    # rollbot restarts: a new process (new build, new Slack app) on the same database.
    slack = slack_chat(h.rollbot.settings)
    page = FakeStatusPage("after-restart")
    again = build(h.rollbot.settings, clock=h.clock, chat=slack.ports, status_pages=[page])
    again_app = build_slack_app(again, slack.client)
    try:
        h.clock.advance(timedelta(minutes=2))
        again.incidents.run_due()
        [published] = page.published
        assert published.status == "investigating"
        assert incident.page.published == []  # the old process is gone
        assert "Status update published (investigating)" in incident.texts_in(channel)
        view = again.incidents.incidents()[0]
        assert view.last_update_at is not None and view.last_update_at < view.status_deadline
    finally:
        again_app.work.close()
        again.db.dispose()


def test_a_pinned_reply_in_a_thread_lands_on_the_timeline(incident: Incident) -> None:
    h = incident.h
    channel = declare(incident)
    parent = h.fake.post_as_user(channel, "U_BOB", "api-7 restarted")
    reply = h.fake.post_as_user(channel, "U_DAVE", "it is OOMing again", thread_ts=parent)
    assert h.slack.reaction_added("pushpin", reply, channel_id=channel).status_code == 200
    h.fake.wait_for("chat.getPermalink")
    [replies] = h.fake.calls_to("conversations.replies")
    assert replies.params["ts"] == reply
    view = h.rollbot.incidents.incidents()[0]
    deadline = time.monotonic() + 5
    while True:  # the listener records it after reading the permalink
        with h.rollbot.db.session() as s:
            pinned = [
                mrkdwn(e.message) for e in store.timeline(s, view.id) if e.kind.value == "pinned"
            ]
        if pinned or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert pinned == ["<@U_DAVE>: it is OOMing again"]


def test_the_cards_buttons_acknowledge_and_resolve(incident: Incident) -> None:
    h, fake = incident.h, incident.h.fake
    channel = declare(incident)
    card = next(c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == channel)
    ts = str(card.response["ts"])  # type: ignore[index]
    blocks = fake.message(channel, ts)["blocks"]  # type: ignore[index]
    assert button_styles(blocks) == {"incident_ack": "primary", "incident_resolve": "danger"}
    updates = len(fake.calls_to("chat.update"))
    h.slack.block_action(
        "incident_ack",
        value=button_value(blocks, "incident_ack"),
        user_id="U_CAROL",
        channel_id=channel,
        message_ts=ts,
        message_blocks=blocks,
    )
    fake.wait_for("chat.update", updates + 1)
    deadline = time.monotonic() + 5
    while len(incident.pager.events) < 2:
        assert time.monotonic() < deadline, incident.pager.events
        time.sleep(0.02)
    assert incident.pager.events[1]["event_action"] == "acknowledge"
    blocks = fake.message(channel, ts)["blocks"]  # type: ignore[index]
    assert button_value(blocks, "incident_ack") is None  # acknowledged: the button is gone
    h.slack.block_action(
        "incident_resolve",
        value=button_value(blocks, "incident_resolve"),
        user_id="U_CAROL",
        channel_id=channel,
        message_ts=ts,
        message_blocks=blocks,
    )
    fake.wait_for("files.completeUploadExternal")
    assert [e["event_action"] for e in incident.pager.events][-1] == "resolve"
    deadline = time.monotonic() + 5
    while button_value(fake.message(channel, ts)["blocks"], "incident_resolve"):  # type: ignore[index]
        assert time.monotonic() < deadline, "the card still offers Resolve"
        time.sleep(0.02)


def test_mentions_and_links_typed_by_a_user_stay_text_everywhere(incident: Incident) -> None:
    """A title, a note, an update and a rollback reason with `<!channel>` and a disguised
    link ping nobody and link nowhere: every message rollbot sends escapes them."""
    h = incident.h
    hostile = "<!channel> db down <https://evil.example|login> <@U0BOSS>"
    incident.command(f"declare sev3 {hostile}")
    channel = next(c for c, obj in h.fake.channels.items() if obj["name"].startswith("inc-"))
    incident.command(f"note {hostile}", channel_id=channel)
    incident.command(f"update identified {hostile}", channel_id=channel)
    incident.command("timeline", channel_id=channel)
    incident.command("status", channel_id=channel)
    incident.command("list", channel_id=channel)
    h.quiet()
    sent = "\n".join(_mrkdwn_strings([c.params for c in h.fake.calls]))
    for raw in ("<!channel>", "<https://evil.example|login>", "<@U0BOSS>"):
        assert raw not in sent, raw
    assert "&lt;!channel&gt;" in sent


def _mrkdwn_strings(value: object) -> list[str]:
    """Every string Slack would read as mrkdwn: not `plain_text` objects (Slack shows those
    as typed), not ids, metadata or URLs of the API call itself."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _mrkdwn_strings(item)]
    if isinstance(value, dict):
        if value.get("type") == "plain_text":
            return []
        skip = {
            "channel",
            "ts",
            "thread_ts",
            "private_metadata",
            "value",
            "action_id",
            "block_id",
            "users",
            "name",
            "user",
            "filename",
            "email",
        }
        return [s for k, v in value.items() if k not in skip for s in _mrkdwn_strings(v)]
    return []
