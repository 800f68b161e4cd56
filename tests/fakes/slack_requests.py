"""Send signed requests into the bot over HTTP, shaped exactly like Slack's.

``SlackRequestSender`` plays the Slack side of slash commands, interactivity
(block_actions, view_submission) and the Events API: it builds the same bodies
Slack builds, signs them with the v0 HMAC scheme and POSTs them with httpx to
``{app_url}/slack/events``. Tests then look at the HTTP response (the ack) and at
the ``FakeSlack`` server for the bot's follow-up Web API calls.

Note that Slack only *retries* Events API deliveries (``X-Slack-Retry-Num``);
slash commands and interactions are never retried by Slack, but the retry headers
can still be sent to check that the bot does not misbehave when they appear.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

__all__ = ["SentRequest", "SlackRequestSender", "parse_form_body", "signed_headers"]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"
# What Slack's delivery infrastructure identifies itself as.
SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def signed_headers(
    body: str,
    secret: str,
    timestamp: int | str | None = None,
    *,
    content_type: str = FORM_CONTENT_TYPE,
) -> dict[str, str]:
    """Headers Slack attaches to a request: content type, timestamp and v0 signature.

    ``timestamp`` defaults to now; pass an old one (> 5 minutes) to test replay
    protection. The signature is ``v0=HMAC_SHA256(secret, "v0:{ts}:{body}")``.
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    if signature is None:  # slack_sdk returns None only for a missing timestamp/body
        raise ValueError("could not compute a Slack signature")
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


@dataclass
class SentRequest:
    """What the sender posted, kept so a test can resend it as a Slack retry."""

    kind: str
    body: str
    content_type: str
    trigger_id: str | None
    response_url: str | None
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _name_from_id(entity_id: str) -> str:
    """U_ALICE -> alice, C_RELEASES -> releases: readable defaults for names."""
    _, sep, rest = entity_id.partition("_")
    return (rest if sep else entity_id[1:]).lower() or entity_id.lower()


class SlackRequestSender:
    """Posts Slack-shaped, correctly signed requests to the bot's HTTP endpoint."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        response_url_factory: Callable[[], str],
        *,
        path: str = "/slack/events",
        team_id: str = "T0001",
        team_domain: str = "rollbot-test",
        api_app_id: str = "A0ROLLBOT",
        bot_user_id: str = "U0BOT",
        client: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Configure the target (``app_url`` without path) and Slack-side identities.

        ``response_url_factory`` is typically ``fake_slack.response_url`` so that
        ``respond()`` calls land on the fake. Pass ``client`` to reuse an httpx client
        (e.g. one wrapping an ASGI transport instead of a real socket).
        """
        self.url = app_url.rstrip("/") + path
        self.signing_secret = signing_secret
        self.response_url_factory = response_url_factory
        self.team_id = team_id
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        # Slack gives apps 3 s to ack; a longer client timeout lets tests observe
        # slow acks via response.elapsed instead of failing with a transport error.
        self._client = client or httpx.Client(timeout=timeout)
        self._owns_client = client is None
        self._counter = itertools.count(1)
        self.sent: list[SentRequest] = []

    def close(self) -> None:
        """Close the underlying httpx client if this sender created it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> SlackRequestSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def last(self) -> SentRequest:
        """The most recent request sent (AssertionError if none)."""
        if not self.sent:
            raise AssertionError("SlackRequestSender has not sent anything yet")
        return self.sent[-1]

    # ---------------------------------------------------------------- id helpers

    def new_trigger_id(self) -> str:
        """A unique trigger_id in Slack's ``<digits>.<digits>.<hex>`` format."""
        return f"{int(time.time() * 1000)}.{next(self._counter)}.{uuid.uuid4().hex}"

    def _action_ts(self) -> str:
        return f"{time.time():.6f}"

    def _user(self, user_id: str, user_name: str | None) -> dict[str, Any]:
        name = user_name or _name_from_id(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.team_domain}

    # ---------------------------------------------------------------- transport

    def send_raw(
        self,
        body: str,
        retry_num: int | None = None,
        *,
        retry_reason: str = "http_timeout",
        timestamp: int | str | None = None,
        secret_override: str | None = None,
        content_type: str = FORM_CONTENT_TYPE,
    ) -> httpx.Response:
        """Sign and POST ``body`` as-is (freshly timestamped unless overridden).

        ``secret_override`` signs with another secret to forge a bad signature.
        """
        headers = signed_headers(
            body,
            secret_override if secret_override is not None else self.signing_secret,
            timestamp,
            content_type=content_type,
        )
        headers["User-Agent"] = SLACK_USER_AGENT
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        return self._client.post(self.url, content=body.encode("utf-8"), headers=headers)

    def resend(
        self,
        request: SentRequest | httpx.Response | None = None,
        retry_num: int = 1,
        retry_reason: str = "http_timeout",
    ) -> httpx.Response:
        """Deliver an earlier request again as Slack's retry N (default: the last one).

        Slack re-signs retries with a new timestamp but the body is byte-identical,
        so the same trigger_id / event_id reaches the bot twice.
        """
        if request is None:
            request = self.last
        if isinstance(request, httpx.Response):
            body = request.request.content.decode("utf-8")
            content_type = request.request.headers.get("Content-Type", FORM_CONTENT_TYPE)
        else:
            body, content_type = request.body, request.content_type
        return self.send_raw(body, retry_num, retry_reason=retry_reason, content_type=content_type)

    def _send(
        self,
        sent: SentRequest,
        *,
        retry_num: int | None,
        timestamp: int | str | None,
        secret_override: str | None,
    ) -> httpx.Response:
        self.sent.append(sent)
        response = self.send_raw(
            sent.body,
            retry_num,
            timestamp=timestamp,
            secret_override=secret_override,
            content_type=sent.content_type,
        )
        sent.headers = dict(response.request.headers)
        return response

    def _send_payload(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        retry_num: int | None,
        timestamp: int | str | None,
        secret_override: str | None,
    ) -> httpx.Response:
        # Interactivity payloads arrive as a single form field holding JSON.
        body = urlencode({"payload": json.dumps(payload)})
        sent = SentRequest(
            kind=kind,
            body=body,
            content_type=FORM_CONTENT_TYPE,
            trigger_id=payload.get("trigger_id"),
            response_url=payload.get("response_url"),
            payload=payload,
        )
        return self._send(
            sent, retry_num=retry_num, timestamp=timestamp, secret_override=secret_override
        )

    # ---------------------------------------------------------------- slash commands

    def command(
        self,
        command: str,
        text: str = "",
        user_id: str = "U_ALICE",
        user_name: str | None = None,
        channel_id: str = "C_RELEASES",
        channel_name: str | None = None,
        trigger_id: str | None = None,
        retry_num: int | None = None,
        timestamp: int | str | None = None,
        secret_override: str | None = None,
        response_url: str | None = None,
    ) -> httpx.Response:
        """Invoke a slash command (``/rollout``, ...) the way Slack posts it."""
        trigger_id = trigger_id or self.new_trigger_id()
        response_url = response_url or self.response_url_factory()
        if channel_name is None:
            channel_name = (
                "directmessage" if channel_id.startswith("D") else _name_from_id(channel_id)
            )
        # Field order matches what Slack sends; Bolt does not care, humans reading
        # captured bodies do.
        fields = {
            "token": "verification-token-unused",
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name or _name_from_id(user_id),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        sent = SentRequest(
            kind="command",
            body=urlencode(fields),
            content_type=FORM_CONTENT_TYPE,
            trigger_id=trigger_id,
            response_url=response_url,
            payload=dict(fields),
        )
        return self._send(
            sent, retry_num=retry_num, timestamp=timestamp, secret_override=secret_override
        )

    # ---------------------------------------------------------------- interactivity

    def block_action(
        self,
        action_id: str,
        value: str | None = None,
        user_id: str = "U_ALICE",
        user_name: str | None = None,
        channel_id: str = "C_RELEASES",
        channel_name: str | None = None,
        message_ts: str = "1700000000.000100",
        block_id: str = "actions",
        trigger_id: str | None = None,
        retry_num: int | None = None,
        message_blocks: list[dict[str, Any]] | None = None,
        message_text: str = "",
        is_ephemeral: bool = False,
        button_text: str = "Button",
        action_overrides: Mapping[str, Any] | None = None,
        timestamp: int | str | None = None,
        secret_override: str | None = None,
        response_url: str | None = None,
    ) -> httpx.Response:
        """Click a button (or other element via ``action_overrides``) on a message."""
        trigger_id = trigger_id or self.new_trigger_id()
        response_url = response_url or self.response_url_factory()
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "text": {"type": "plain_text", "text": button_text, "emoji": True},
            "type": "button",
            "action_ts": self._action_ts(),
        }
        if value is not None:
            action["value"] = value
        action.update(action_overrides or {})
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "text": message_text,
            "ts": message_ts,
            "user": self.bot_user_id,
            "bot_id": "B0BOT",
            "app_id": self.api_app_id,
            "team": self.team_id,
            "blocks": message_blocks or [],
        }
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id, user_name),
            "api_app_id": self.api_app_id,
            "token": "verification-token-unused",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": is_ephemeral,
            },
            "trigger_id": trigger_id,
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": channel_name or _name_from_id(channel_id)},
            "message": message,
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }
        if is_ephemeral:
            # Slack does not include the message body for ephemeral messages.
            del payload["message"]
        return self._send_payload(
            "block_actions",
            payload,
            retry_num=retry_num,
            timestamp=timestamp,
            secret_override=secret_override,
        )

    def view_submission(
        self,
        callback_id: str,
        values: Mapping[str, Mapping[str, Any]],
        private_metadata: str = "",
        user_id: str = "U_ALICE",
        user_name: str | None = None,
        view_id: str | None = None,
        title: str = "Rollbot",
        trigger_id: str | None = None,
        retry_num: int | None = None,
        timestamp: int | str | None = None,
        secret_override: str | None = None,
    ) -> httpx.Response:
        """Submit a modal.

        ``values`` maps block_id -> action_id -> value: a ``str`` becomes a
        plain_text_input state (``{"type": "plain_text_input", "value": ...}``); a dict
        is used verbatim (e.g. ``{"type": "static_select", "selected_option": ...}``).
        """
        trigger_id = trigger_id or self.new_trigger_id()
        view_id = view_id or f"V{next(self._counter):08d}"
        state: dict[str, dict[str, Any]] = {}
        blocks: list[dict[str, Any]] = []
        for block_id, actions in values.items():
            state[block_id] = {}
            for action_id, value in actions.items():
                element_state = (
                    dict(value)
                    if isinstance(value, Mapping)
                    else {"type": "plain_text_input", "value": value}
                )
                state[block_id][action_id] = element_state
                blocks.append(
                    {
                        "type": "input",
                        "block_id": block_id,
                        "label": {"type": "plain_text", "text": block_id},
                        "optional": False,
                        "element": {"type": element_state["type"], "action_id": action_id},
                    }
                )
        view: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": blocks,
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": state},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "title": {"type": "plain_text", "text": title},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": {"type": "plain_text", "text": "Cancel"},
            "submit": {"type": "plain_text", "text": "Submit"},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.api_app_id,
            "external_id": "",
            "app_installed_team_id": self.team_id,
            "bot_id": "B0BOT",
        }
        payload: dict[str, Any] = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user_id, user_name),
            "api_app_id": self.api_app_id,
            "token": "verification-token-unused",
            "trigger_id": trigger_id,
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._send_payload(
            "view_submission",
            payload,
            retry_num=retry_num,
            timestamp=timestamp,
            secret_override=secret_override,
        )

    # ---------------------------------------------------------------- Events API

    def event(
        self,
        event: Mapping[str, Any],
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | str | None = None,
        secret_override: str | None = None,
    ) -> httpx.Response:
        """Deliver an Events API ``event_callback`` (JSON body, unlike the others)."""
        event_id = event_id or f"Ev{uuid.uuid4().hex[:10].upper()}"
        envelope: dict[str, Any] = {
            "token": "verification-token-unused",
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        body = json.dumps(envelope)
        sent = SentRequest(
            kind="event",
            body=body,
            content_type=JSON_CONTENT_TYPE,
            trigger_id=None,
            response_url=None,
            payload=envelope,
        )
        self.sent.append(sent)
        response = self.send_raw(
            body,
            retry_num,
            retry_reason=retry_reason,
            timestamp=timestamp,
            secret_override=secret_override,
            content_type=JSON_CONTENT_TYPE,
        )
        sent.headers = dict(response.request.headers)
        return response

    def reaction_added(
        self,
        reaction: str,
        item_ts: str,
        user_id: str = "U_ALICE",
        channel_id: str = "C_RELEASES",
        item_user: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Deliver a ``reaction_added`` event; extra kwargs go to :meth:`event`."""
        return self.event(
            {
                "type": "reaction_added",
                "user": user_id,
                "reaction": reaction,
                "item_user": item_user or self.bot_user_id,
                "item": {"type": "message", "channel": channel_id, "ts": item_ts},
                "event_ts": self._action_ts(),
            },
            **kwargs,
        )

    def member_joined_channel(
        self,
        user_id: str = "U_ALICE",
        channel_id: str = "C_RELEASES",
        inviter: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Deliver a ``member_joined_channel`` event; extra kwargs go to :meth:`event`."""
        event: dict[str, Any] = {
            "type": "member_joined_channel",
            "user": user_id,
            "channel": channel_id,
            "channel_type": "C",
            "team": self.team_id,
            "event_ts": self._action_ts(),
        }
        if inviter:
            event["inviter"] = inviter
        return self.event(event, **kwargs)

    def url_verification(self, challenge: str = "challenge-token") -> httpx.Response:
        """Send the one-time ``url_verification`` handshake Slack does on setup."""
        body = json.dumps(
            {
                "token": "verification-token-unused",
                "challenge": challenge,
                "type": "url_verification",
            }
        )
        return self.send_raw(body, content_type=JSON_CONTENT_TYPE)


def parse_form_body(body: str | bytes) -> dict[str, str]:
    """Decode a form body (e.g. ``response.request.content``) into single values."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
