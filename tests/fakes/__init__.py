"""Test doubles for Slack: a fake Web API server and a signed-request sender."""

from tests.fakes.slack_api import Call, FakeSlack, fake_slack_fixture, validate_blocks
from tests.fakes.slack_requests import SentRequest, SlackRequestSender, signed_headers

__all__ = [
    "Call",
    "FakeSlack",
    "SentRequest",
    "SlackRequestSender",
    "fake_slack_fixture",
    "signed_headers",
    "validate_blocks",
]
