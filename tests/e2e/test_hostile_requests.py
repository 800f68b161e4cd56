"""Malformed and unauthenticated requests to /slack/events: a 4xx, one log line without the
body, and no traceback (anyone on the internet can send these)."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest

from tests.e2e.conftest import FLAG, SIGNING_SECRET, Harness
from tests.fakes.slack_requests import FORM_CONTENT_TYPE, JSON_CONTENT_TYPE, signed_headers

FORM = {"Content-Type": FORM_CONTENT_TYPE}


def _payload(data: object) -> str:
    return urlencode({"payload": json.dumps(data)})


UNSIGNED = {
    "form payload that is not JSON": ("payload=notjson", FORM),
    "form payload that is a number": ("payload=123", FORM),
    "JSON body cut short": ("{", {"Content-Type": JSON_CONTENT_TYPE}),
    "timestamp that is not a number": (
        "payload=notjson",
        {**FORM, "X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"},
    ),
}

SIGNED = {
    "form payload that is not JSON": "payload=notjson",
    "form payload that is a number": "payload=123",
    "view submission without a user": _payload(
        {
            "type": "view_submission",
            "team": {"id": "T1"},
            "trigger_id": "1.2.3",
            "view": {"id": "V1", "callback_id": "rollback_confirm", "hash": "h", "state": {}},
        }
    ),
    # Found by the fuzz test: Bolt's matchers read `view.type` (a KeyError, a 500).
    "view submission whose view has no type": _payload(
        {
            "type": "view_submission",
            "team": {"id": "T1"},
            "user": {"id": "U_ALICE"},
            "trigger_id": "0",
            "view": {"id": "V1", "hash": "h", "callback_id": "rollback_confirm", "state": {}},
        }
    ),
    "block actions that are a string": _payload(
        {"type": "block_actions", "actions": "x", "user": {"id": "U1"}, "team": {"id": "T1"}}
    ),
    "block action without a user": _payload(
        {
            "type": "block_actions",
            "team": {"id": "T1"},
            "trigger_id": "1.2.4",
            "actions": [{"action_id": "rollout_advance", "value": "{}", "action_ts": "1"}],
        }
    ),
}


@pytest.mark.parametrize("name", sorted(UNSIGNED))
def test_unsigned_garbage_is_refused_with_401_and_no_traceback(
    harness: Harness, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    body, headers = UNSIGNED[name]
    caplog.set_level(logging.DEBUG)
    response = harness.web.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert "Traceback" not in caplog.text and "notjson" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("name", sorted(SIGNED))
def test_signed_but_malformed_requests_get_400_and_no_traceback(
    harness: Harness, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    body = SIGNED[name]
    caplog.set_level(logging.DEBUG)
    response = harness.web.post(
        "/slack/events", content=body, headers=signed_headers(body, SIGNING_SECRET)
    )
    assert response.status_code == 400, response.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    harness.quiet()
    assert not [r for r in caplog.records if r.exc_info], caplog.text


def test_a_request_body_is_never_logged(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    secret_url = "https://hooks.slack.com/commands/T1/123/SECRETRESPONSEURL"
    body = urlencode({"command": "/rollout", "text": "status", "response_url": secret_url})
    caplog.set_level(logging.DEBUG)
    response = harness.web.post(
        "/slack/events", content=body, headers={**FORM, "X-Slack-Signature": "v0=bad"}
    )
    assert response.status_code == 401
    assert "SECRETRESPONSEURL" not in caplog.text


@pytest.mark.parametrize("percent", ["²", "５", "٥٠", pytest.param("1" * 5000, id="5000 digits")])
def test_only_ascii_digits_are_a_percentage(harness: Harness, percent: str) -> None:
    harness.command(f"start {FLAG}")
    before = harness.flag()
    reply = harness.command(f"set {FLAG} {percent}")
    assert "is not a whole number from 0 to 100" in reply.params["text"]
    assert "unexpected problem" not in reply.params["text"]
    assert harness.flag() == before


@pytest.mark.parametrize(
    "value", ['{"rollout": 1000000000000000000000000000000, "step": 0}', '{"rollout": -1}']
)
def test_a_forged_button_id_is_refused_plainly(
    harness: Harness, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    harness.command(f"start {FLAG}")
    before = len(harness.responses())
    response = harness.slack.block_action("rollout_advance", value)
    assert response.status_code == 200
    (reply,) = harness.fake.wait_for("response_url", before + 1)[before:]
    assert "does not say which rollout" in reply.params["text"]
    assert not [r for r in caplog.records if r.exc_info]
