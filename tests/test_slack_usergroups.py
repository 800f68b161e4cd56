"""Role membership through Slack user groups: `usergroups.users.list`, cached briefly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.slack.signoff_notifier import SlackGroupResolver
from tests.fakes.slack_api import FakeSlack, fake_slack_fixture

fake_slack = pytest.fixture(fake_slack_fixture)


@pytest.fixture
def client(fake_slack: FakeSlack) -> Iterator[WebClient]:
    yield WebClient(token="xoxb-test", base_url=fake_slack.api_url)


def test_members_are_fetched_then_cached_until_the_ttl(
    fake_slack: FakeSlack, client: WebClient
) -> None:
    now = [100.0]
    resolver = SlackGroupResolver(client, ttl_s=60, monotonic=lambda: now[0])
    fake_slack.usergroups["S_OPS"] = ["U_1", "U_2"]
    assert resolver("S_OPS") == ["U_1", "U_2"]
    fake_slack.usergroups["S_OPS"] = ["U_3"]
    now[0] += 30
    assert resolver("S_OPS") == ["U_1", "U_2"]  # cached
    assert len(fake_slack.calls_to("usergroups.users.list")) == 1
    now[0] += 31
    assert resolver("S_OPS") == ["U_3"]
    assert fake_slack.calls_to("usergroups.users.list")[-1].params["usergroup"] == "S_OPS"


def test_an_api_error_keeps_the_last_known_members(
    fake_slack: FakeSlack, client: WebClient
) -> None:
    now = [0.0]
    resolver = SlackGroupResolver(client, ttl_s=1, monotonic=lambda: now[0])
    assert resolver("S_UNKNOWN") == []  # no_such_subteam: nobody, not a crash
    fake_slack.usergroups["S_OPS"] = ["U_1"]
    assert resolver("S_OPS") == ["U_1"]
    now[0] += 5
    fake_slack.fail_next("usergroups.users.list", error="internal_error")
    assert resolver("S_OPS") == ["U_1"]
