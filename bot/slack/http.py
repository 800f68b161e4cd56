"""`POST /slack/events` over HTTP: what reaches Bolt is signed and well formed.

Anyone on the internet can post to this URL, so before Bolt sees a request it is checked
here: a missing or wrong v0 signature (or a timestamp that is not a number, or older than
five minutes) gets 401, a signed body that is not a command, an interaction or an event
Slack could have sent gets 400. Either way the log gets one line that names what was wrong
and never the body (it carries a live `response_url`). Bolt verifies the signature again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.slack.listener import ARRIVED_AT

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000  # Slack's own payloads are far smaller
EVENTS_API_TYPES = frozenset({"url_verification", "event_callback", "app_rate_limited"})
OBJECT_KEYS = ("user", "team", "enterprise", "channel", "view", "container", "message", "event")
INTERACTIONS_WITH_A_USER = frozenset(
    {"block_actions", "view_submission", "view_closed", "shortcut", "message_action"}
)


class Malformed(ValueError):
    """A signed body that no Slack request looks like; the message says what is wrong."""


def check_signature(
    verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]
) -> str | None:
    """What is wrong with the request's signature, or None when Slack signed it."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        return "no Slack signature"
    if not timestamp.isascii() or not timestamp.isdigit():
        return "a timestamp that is not a number"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "a body that is not UTF-8"
    if not verifier.is_valid(text, timestamp, signature):
        return "a wrong or expired signature"
    return None


def check_shape(body: bytes, content_type: str) -> None:
    """Raise `Malformed` unless the body is shaped like a slash command, an interaction
    payload or an Events API callback."""
    text = body.decode("utf-8")
    if content_type.startswith("application/json"):
        data = _json(text, "body")
        # Only the Events API posts JSON; interactions come as a form's `payload`.
        if not isinstance(data, dict) or data.get("type") not in EVENTS_API_TYPES:
            raise Malformed("a JSON body that is not an Events API callback")
        _check_objects(data)
        return
    form = parse_qs(text, keep_blank_values=True)
    if "payload" in form:
        _check_payload(_json(form["payload"][0], "payload"))
        return
    if form.get("ssl_check"):
        return  # Slack checking the certificate; Bolt answers it
    if not form.get("command") or not form.get("user_id"):
        raise Malformed("a form that is neither a command nor an interaction")


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise Malformed(f"a {what} that is not JSON") from None


def _check_objects(data: dict[str, Any]) -> None:
    """Bolt reads these keys as objects wherever it finds them (even to log the request).
    Slack sends some as null (`"enterprise": null` outside Enterprise Grid); a `view`, when
    there is one, is always an object."""
    for key in OBJECT_KEYS:
        value = data.get(key)
        if key in data and not isinstance(value, dict) and (value is not None or key == "view"):
            raise Malformed(f"a {key!r} that is not an object")


def _check_payload(payload: Any) -> None:
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise Malformed("an interaction payload without a type")
    _check_objects(payload)
    kind = payload["type"]
    if kind in INTERACTIONS_WITH_A_USER:
        user = payload.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            raise Malformed(f"a {kind} payload without a user")
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
            raise Malformed("block_actions whose actions are not a list of actions")
    if kind in ("view_submission", "view_closed"):
        view = payload.get("view")
        # Bolt reads the view's type to match every listener (a missing one raised there).
        if not isinstance(view, dict) or not isinstance(view.get("type"), str):
            raise Malformed(f"a {kind} payload without a view")


def slack_events(app: App, signing_secret: str) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint handing checked requests to the Bolt `app`."""
    verifier = SignatureVerifier(signing_secret)

    async def endpoint(request: Request) -> Response:
        arrived = time.monotonic()  # the ack is timed from here (rollbot_ack_seconds)
        body = await request.body()
        if len(body) > MAX_BODY:
            log.warning("refused a %d-byte request to /slack/events", len(body))
            return JSONResponse({"error": "request too large"}, 413)
        wrong = check_signature(verifier, body, request.headers)
        if wrong is not None:
            log.warning("refused a request to /slack/events with %s", wrong)
            return JSONResponse({"error": "invalid request signature"}, 401)
        try:
            check_shape(body, request.headers.get("content-type", ""))
        except Malformed as exc:
            log.warning("refused a signed request to /slack/events: %s", exc)
            return JSONResponse({"error": f"malformed request: {exc}"}, 400)
        # Bolt's App is synchronous: dispatch in the thread pool so one request waiting for
        # its ack never stalls the others (or /healthz and /flags).
        bolt_request = to_bolt_request(request, body, {ARRIVED_AT: arrived})
        bolt_response = await run_in_threadpool(app.dispatch, bolt_request)
        response: Response = to_starlette_response(bolt_response)
        return response

    return endpoint
