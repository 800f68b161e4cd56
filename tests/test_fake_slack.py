"""Tests for the Slack test doubles themselves (FakeSlack, SlackRequestSender).

They drive the fakes through the real slack_sdk / slack_bolt stacks, so a passing run
also shows the doubles speak the same wire format as the libraries the bot uses.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.fakes.slack_api import FakeSlack, fake_slack_fixture, validate_blocks
from tests.fakes.slack_requests import SlackRequestSender, parse_form_body, signed_headers

SECRET = "test-signing-secret"

fake = pytest.fixture(fake_slack_fixture)


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    """A real slack_sdk client pointed at the fake."""
    return WebClient(token="xoxb-test", base_url=fake.api_url)


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    """A minimal mrkdwn section block."""
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


# ------------------------------------------------------------------ basic Web API


def test_post_message_is_answered_and_recorded(fake: FakeSlack, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C_RELEASES", text="hello", blocks=[section("hi")])
    second = client.chat_postMessage(channel="C_RELEASES", text="again", thread_ts=first["ts"])

    assert first["ok"] is True
    assert first["channel"] == "C_RELEASES"
    assert first["message"]["text"] == "hello"
    assert first["message"]["bot_id"] == fake.bot_id
    assert float(second["ts"]) > float(first["ts"])  # unique, increasing

    calls = fake.calls_to("chat.postMessage")
    assert [c.params["text"] for c in calls] == ["hello", "again"]
    assert calls[0].params["blocks"] == [section("hi")]
    assert calls[0].headers["authorization"] == "Bearer xoxb-test"
    assert calls[1].params["thread_ts"] == first["ts"]
    assert [m["text"] for m in fake.messages_in("C_RELEASES")] == ["hello", "again"]


def test_form_encoded_blocks_json_string_is_decoded(fake: FakeSlack, client: WebClient) -> None:
    # api_call(params=...) sends a form body with blocks as a JSON string, like older code.
    client.api_call(
        "chat.postMessage",
        params={"channel": "C1", "text": "t", "blocks": json.dumps([section("x")])},
    )
    call = fake.calls_to("chat.postMessage")[0]
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.params["blocks"] == [section("x")]


def test_update_changes_stored_message(fake: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="v1")["ts"]
    updated = client.chat_update(channel="C1", ts=ts, text="v2", blocks=[section("v2")])
    assert updated["ts"] == ts
    message = fake.message("C1", ts)
    assert message is not None
    assert message["text"] == "v2"


def test_misc_methods_answer_realistically(fake: FakeSlack, client: WebClient) -> None:
    auth = client.auth_test()
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == ("T0001", "U0BOT", "B0BOT")

    dm = client.conversations_open(users="U_ALICE")["channel"]["id"]
    assert dm.startswith("D")
    assert client.chat_postEphemeral(channel="C1", user="U_ALICE", text="psst")["message_ts"]
    link = client.chat_getPermalink(channel="C1", message_ts="1700000000.000100")
    assert link["permalink"].endswith("/archives/C1/p1700000000000100")

    client.pins_add(channel="C1", timestamp="1.2")
    with pytest.raises(SlackApiError, match="already_pinned"):
        client.pins_add(channel="C1", timestamp="1.2")
    client.reactions_add(channel="C1", timestamp="1.2", name="white_check_mark")

    user = client.users_info(user="U_ALICE")["user"]
    assert (user["id"], user["name"], user["real_name"]) == ("U_ALICE", "alice", "Alice Anders")
    assert user["profile"]["email"] == "alice@example.com"
    assert client.users_lookupByEmail(email="alice@example.com")["user"]["id"] == "U_ALICE"
    with pytest.raises(SlackApiError, match="users_not_found"):
        client.users_lookupByEmail(email="nobody@example.com")


def test_conversations_create_invite_and_errors(fake: FakeSlack, client: WebClient) -> None:
    channel = client.conversations_create(name="inc-2024-db-outage")["channel"]
    assert channel["name"] == "inc-2024-db-outage"
    assert channel["id"].startswith("C")

    with pytest.raises(SlackApiError, match="name_taken"):
        client.conversations_create(name="inc-2024-db-outage")
    with pytest.raises(SlackApiError, match="invalid_name_maxlength"):
        client.conversations_create(name="x" * 81)
    with pytest.raises(SlackApiError, match="invalid_name_specials"):
        client.conversations_create(name="Has Spaces")

    client.conversations_invite(channel=channel["id"], users=["U_ALICE", "U_BOB"])
    with pytest.raises(SlackApiError, match="already_in_channel"):
        client.conversations_invite(channel=channel["id"], users="U_ALICE")
    assert client.conversations_join(channel=channel["id"])["ok"]


def test_usergroups_are_configurable(fake: FakeSlack, client: WebClient) -> None:
    fake.usergroups["S_SRE"] = ["U_ALICE", "U_BOB"]
    assert client.usergroups_users_list(usergroup="S_SRE")["users"] == ["U_ALICE", "U_BOB"]
    with pytest.raises(SlackApiError, match="no_such_subteam"):
        client.usergroups_users_list(usergroup="S_NOPE")


def test_views_open_returns_view_with_id(fake: FakeSlack, client: WebClient) -> None:
    view = {
        "type": "modal",
        "callback_id": "approve",
        "title": {"type": "plain_text", "text": "Approve"},
        "submit": {"type": "plain_text", "text": "Approve"},
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }
    opened = client.views_open(trigger_id="123.456.abc", view=view)["view"]
    assert opened["id"].startswith("V")
    assert opened["callback_id"] == "approve"
    updated = client.views_update(view_id=opened["id"], view=view)["view"]
    assert updated["id"] == opened["id"]
    assert fake.calls_to("views.open")[0].params["view"]["callback_id"] == "approve"


def test_file_upload_v2_flow(fake: FakeSlack, client: WebClient) -> None:
    result = client.files_upload_v2(
        channel="C1", filename="audit.csv", content="a,b\n1,2\n", title="Audit"
    )
    assert result["file"]["title"] == "Audit"
    assert [c.method for c in fake.calls] == [
        "files.getUploadURLExternal",
        "file_upload",
        "files.completeUploadExternal",
    ]
    (uploaded,) = fake.uploaded_files.values()
    assert uploaded.content == b"a,b\n1,2\n"
    assert uploaded.completed
    assert uploaded.channel_id == "C1"


def test_unknown_method_and_bad_tokens(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError, match="unknown_method"):
        client.api_call("no.such.method")
    for token in ("xoxp-user-token", ""):
        bad = WebClient(token=token or None, base_url=fake.api_url)
        with pytest.raises(SlackApiError, match="invalid_auth"):
            bad.chat_postMessage(channel="C1", text="x")
    assert all(c.failed_with for c in fake.calls)


# ------------------------------------------------------------------ validation


def test_section_text_over_3000_chars_is_invalid_blocks(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="t", blocks=[section("x" * 3001)])
    assert err.value.response["error"] == "invalid_blocks"
    assert "3000" in fake.invalid_payloads[0]
    assert fake.calls_to("chat.postMessage")[0].failed_with == "invalid_blocks"
    with pytest.raises(AssertionError, match="3000"):
        fake.assert_no_invalid_payloads()
    fake.invalid_payloads.clear()


def test_block_count_limits(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="t", blocks=[{"type": "divider"}] * 50)
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(channel="C1", text="t", blocks=[{"type": "divider"}] * 51)
    assert "no more than 50" in fake.invalid_payloads[0]
    fake.invalid_payloads.clear()


def test_blocks_inside_views_and_attachments_are_checked(
    fake: FakeSlack, client: WebClient
) -> None:
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Too many"},
        "blocks": [{"type": "divider"}] * 101,
    }
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.views_open(trigger_id="1.2.3", view=modal)
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(
            channel="C1", text="t", attachments=[{"blocks": [{"type": "nope"}]}]
        )
    assert len(fake.invalid_payloads) == 2
    fake.invalid_payloads.clear()


def test_text_over_40k_is_msg_too_long(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError, match="msg_too_long"):
        client.chat_postMessage(channel="C1", text="x" * 40_001)
    fake.invalid_payloads.clear()


def test_validate_blocks_is_stricter_than_slack_sdk() -> None:
    # slack_sdk silently drops these; Slack itself would reject the message.
    assert validate_blocks([{"type": "section", "txt": {"type": "mrkdwn", "text": "x"}}])
    assert validate_blocks([{"type": "actions", "elements": [{"type": "buton"}]}])
    assert validate_blocks([section("a", "same"), section("b", "same")])
    assert validate_blocks([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}])
    assert validate_blocks([section("")])
    assert validate_blocks([section("ok", "a"), {"type": "divider"}]) == []


# ------------------------------------------------------------------ scripted failures


def test_rate_limit_is_retried_by_slack_sdk(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=0)
    client = WebClient(
        token="xoxb-test",
        base_url=fake.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]
    first, second = fake.calls_to("chat.postMessage")
    assert (first.status, first.failed_with) == (429, "ratelimited")
    assert second.ok


def test_rate_limit_without_retry_handler_surfaces_retry_after(
    fake: FakeSlack, client: WebClient
) -> None:
    fake.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="hi")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]  # only once


def test_scripted_ok_false_and_server_errors(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", "channel_not_found", status=200, times=2)
    fake.fail_next("users.info", status=500)
    for _ in range(2):
        with pytest.raises(SlackApiError, match="channel_not_found"):
            client.chat_postMessage(channel="C1", text="x")
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="U_ALICE")
    assert err.value.response.status_code == 500
    assert client.chat_postMessage(channel="C1", text="x")["ok"]


# ------------------------------------------------------------------ response_url & waiting


def test_response_url_posts_are_recorded_and_validated(fake: FakeSlack) -> None:
    url = fake.response_url("abc")
    assert url.endswith("/respond/abc")
    # WebhookClient is what Bolt's respond() uses under the hood.
    response = WebhookClient(url).send(text="Rolled back", response_type="in_channel")
    assert response.status_code == 200
    (call,) = fake.calls_to("response_url")
    assert call.params == {"text": "Rolled back", "response_type": "in_channel"}
    assert call.path == "/respond/abc"

    bad = WebhookClient(fake.response_url()).send(text="x", blocks=[section("y" * 3001)])
    assert bad.status_code == 400
    assert len(fake.invalid_payloads) == 1
    fake.invalid_payloads.clear()


def test_wait_for_sees_calls_from_other_threads(fake: FakeSlack, client: WebClient) -> None:
    def later() -> None:
        time.sleep(0.2)
        client.chat_postMessage(channel="C1", text="late")

    threading.Thread(target=later).start()
    (call,) = fake.wait_for("chat.postMessage", timeout=5)
    assert call.params["text"] == "late"
    with pytest.raises(AssertionError, match=r"chat.postMessage"):
        fake.wait_for("pins.add", timeout=0.1)


# ------------------------------------------------------------------ signing


def test_signed_headers_verify_and_tampering_is_detected() -> None:
    body = "token=x&command=%2Frollout&text=checkout+10"
    headers = signed_headers(body, SECRET)
    verifier = SignatureVerifier(SECRET)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert verifier.is_valid(
        body=body,
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )
    assert not verifier.is_valid(
        body=body.replace("10", "100"),
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )
    forged = signed_headers(body, "wrong-secret")
    assert not verifier.is_valid(
        body=body,
        timestamp=forged["X-Slack-Request-Timestamp"],
        signature=forged["X-Slack-Signature"],
    )
    stale = signed_headers(body, SECRET, timestamp=int(time.time()) - 6 * 60)
    assert not verifier.is_valid(
        body=body,
        timestamp=stale["X-Slack-Request-Timestamp"],
        signature=stale["X-Slack-Signature"],
    )


# ------------------------------------------------------------------ sender end to end


class _BoltHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    app: App
    received: list[tuple[dict[str, str], str]]


class _BoltHandler(BaseHTTPRequestHandler):
    """Bridges raw HTTP to ``App.dispatch`` so no web framework is needed here."""

    server: _BoltHTTPServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.received.append((headers, body))
        result = self.server.app.dispatch(
            BoltRequest(body=body, headers={k: [v] for k, v in headers.items()})
        )
        payload = result.body.encode("utf-8")
        self.send_response(result.status)
        for key, values in result.headers.items():
            for value in values:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean


@pytest.fixture
def bolt_server(fake: FakeSlack) -> Iterator[_BoltHTTPServer]:
    """A tiny Bolt app served over HTTP, using the fake as its Slack."""
    app = App(
        signing_secret=SECRET,
        client=WebClient(token="xoxb-test", base_url=fake.api_url),
    )

    @app.command("/rollout")
    def rollout(ack: Any, respond: Any, say: Any, command: dict[str, Any]) -> None:
        ack(f"Starting rollout of {command['text']}")
        respond("Rollout planned")
        say(f"<@{command['user_id']}> started {command['text']}")

    @app.action("approve")
    def approve(ack: Any, respond: Any, body: dict[str, Any]) -> None:
        ack()
        respond(replace_original=True, text=f"Approved by {body['user']['id']}")

    @app.view("approve_modal")
    def approve_modal(ack: Any, view: dict[str, Any]) -> None:
        reason = view["state"]["values"]["reason"]["value"]["value"]
        if not reason:
            ack(response_action="errors", errors={"reason": "Required"})
        else:
            ack()

    @app.event("reaction_added")
    def reaction(event: dict[str, Any], client: WebClient) -> None:
        client.chat_postMessage(channel=event["item"]["channel"], text=event["reaction"])

    server = _BoltHTTPServer(("127.0.0.1", 0), _BoltHandler)
    server.app = app
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sender(fake: FakeSlack, bolt_server: _BoltHTTPServer) -> Iterator[SlackRequestSender]:
    """SlackRequestSender aimed at the Bolt test server."""
    host, port = bolt_server.server_address[:2]
    with SlackRequestSender(f"http://{host!s}:{port}", SECRET, fake.response_url) as s:
        yield s


def test_sender_slash_command_through_bolt(fake: FakeSlack, sender: SlackRequestSender) -> None:
    response = sender.command("/rollout", "checkout-v2 10%")
    assert response.status_code == 200
    # Bolt acks a bare string as a text/plain body, which Slack shows as an ephemeral.
    assert response.text == "Starting rollout of checkout-v2 10%"

    (responded,) = fake.wait_for("response_url")
    assert responded.params["text"] == "Rollout planned"
    assert responded.path.startswith("/respond/")
    (said,) = fake.wait_for("chat.postMessage")
    assert said.params["channel"] == "C_RELEASES"
    assert said.params["text"] == "<@U_ALICE> started checkout-v2 10%"

    fields = parse_form_body(sender.last.body)
    assert list(fields) == [
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id",
        "user_name", "command", "text", "api_app_id", "is_enterprise_install",
        "response_url", "trigger_id",
    ]  # fmt: skip
    assert (fields["user_name"], fields["channel_name"]) == ("alice", "releases")
    assert fields["trigger_id"] == sender.last.trigger_id


def test_sender_bad_signatures_are_rejected_by_bolt(sender: SlackRequestSender) -> None:
    assert sender.command("/rollout", "x", secret_override="forged").status_code == 401
    stale = int(time.time()) - 6 * 60
    assert sender.command("/rollout", "x", timestamp=stale).status_code == 401


def test_sender_block_action_and_view_submission(
    fake: FakeSlack, sender: SlackRequestSender
) -> None:
    response = sender.block_action("approve", "plan-42", user_id="U_BOB")
    assert response.status_code == 200
    (responded,) = fake.wait_for("response_url")
    assert responded.params == {"text": "Approved by U_BOB", "replace_original": True}
    payload = sender.last.payload
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1700000000.000100",
        "channel_id": "C_RELEASES",
        "is_ephemeral": False,
    }
    assert payload["actions"][0]["value"] == "plan-42"

    rejected = sender.view_submission("approve_modal", {"reason": {"value": ""}})
    assert rejected.json() == {"response_action": "errors", "errors": {"reason": "Required"}}
    accepted = sender.view_submission(
        "approve_modal", {"reason": {"value": "looks good"}}, private_metadata="plan-42"
    )
    assert (accepted.status_code, accepted.text) == (200, "")
    assert sender.last.payload["view"]["private_metadata"] == "plan-42"


def test_sender_events_and_retries(
    fake: FakeSlack, sender: SlackRequestSender, bolt_server: _BoltHTTPServer
) -> None:
    first = sender.reaction_added("white_check_mark", "1700000000.000100")
    assert first.status_code == 200
    fake.wait_for("chat.postMessage")

    retried = sender.resend(first, retry_num=1, retry_reason="http_timeout")
    assert retried.status_code == 200
    (h1, b1), (h2, b2) = bolt_server.received
    assert b1 == b2  # byte-identical body, same event_id
    assert "x-slack-retry-num" not in h1
    assert (h2["x-slack-retry-num"], h2["x-slack-retry-reason"]) == ("1", "http_timeout")
    assert h2["content-type"] == "application/json"
    # Re-signed with a fresh timestamp, as Slack does.
    assert SignatureVerifier(SECRET).is_valid(
        body=b2, timestamp=h2["x-slack-request-timestamp"], signature=h2["x-slack-signature"]
    )


def test_sender_send_raw_with_retry_headers(sender: SlackRequestSender) -> None:
    sender.command("/rollout", "x")
    response = sender.send_raw(sender.last.body, retry_num=2)
    assert isinstance(response, httpx.Response)
    assert response.request.headers["X-Slack-Retry-Num"] == "2"
    assert response.status_code == 200
