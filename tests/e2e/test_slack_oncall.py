"""`/oncall` and paging a contact through Slack's HTTP interface: signed commands into
rollbot served by uvicorn, against the fake Slack Web API."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import CHANNEL, Harness


@pytest.fixture
def harness_extra_yaml() -> str:
    return (
        "contacts:\n"
        "  - name: noc\n"
        "    title: NOC <!channel>\n"
        "    email: noc@example.com\n"
        "    phone: '+1-555-0199'\n"
        "    slack_group: S0NOC\n"
    )


def test_oncall_is_a_private_answer_with_the_contacts(harness: Harness) -> None:
    before = len(harness.responses())
    response = harness.slack.command("/oncall", "", channel_id=CHANNEL, user_id="U_ALICE")
    assert response.status_code == 200, response.text
    reply = harness.fake.wait_for("response_url", before + 1, timeout=10)[before]
    assert reply.params["response_type"] == "ephemeral"
    said = str(reply.params["text"]) + json.dumps(reply.params.get("blocks"))
    assert "noc@example.com" in said and "+1-555-0199" in said
    assert "<!subteam^S0NOC>" in said
    # A title from config is text, not a mention of the whole channel.
    assert "<!channel>" not in said and "&lt;!channel&gt;" in said
    # Nothing about contacts was posted where others can read it.
    posted = harness.fake.calls_to("chat.postMessage")
    assert all("noc@example.com" not in json.dumps(c.params) for c in posted)


def test_oncall_with_an_argument_gets_usage(harness: Harness) -> None:
    before = len(harness.responses())
    harness.slack.command("/oncall", "everyone now", channel_id=CHANNEL, user_id="U_ALICE")
    reply = harness.fake.wait_for("response_url", before + 1, timeout=10)[before]
    assert reply.params["response_type"] == "ephemeral"
    assert "takes no arguments" in str(reply.params["text"])
