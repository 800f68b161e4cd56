"""SlackIncidentChat against the fake Slack: people Slack does not know are None, not errors."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient

from bot.slack.incident_chat import SlackIncidentChat
from tests.fakes.slack_api import FakeSlack, fake_slack_fixture

fake = pytest.fixture(fake_slack_fixture)


@pytest.fixture
def chat(fake: FakeSlack) -> SlackIncidentChat:
    """The incident chat over a real slack_sdk client pointed at the fake."""
    return SlackIncidentChat(WebClient(token="xoxb-test", base_url=fake.api_url))


def test_known_people_are_found_by_email_and_named(chat: SlackIncidentChat) -> None:
    assert chat.user_by_email("alice@example.com") == "U_ALICE"
    assert chat.email_of("U_ALICE") == "alice@example.com"
    assert chat.display_name("U_ALICE") == "Alice Anders"


def test_people_slack_does_not_know_are_none(chat: SlackIncidentChat) -> None:
    assert chat.user_by_email("nobody@example.com") is None
    assert chat.email_of("not-a-user") is None
    assert chat.display_name("not-a-user") is None


def test_a_message_that_is_not_there_is_none(chat: SlackIncidentChat) -> None:
    assert chat.message("C0NOWHERE", "1700000000.000100") is None
