"""PagerDuty v3 webhooks in: POST /webhooks/pagerduty.

PagerDuty signs the raw body: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256>`, with several
comma-separated signatures while a secret is being rotated; one matching is enough. An
unsigned or wrongly signed request gets 401 and changes nothing. Incident events
(triggered, acknowledged, resolved) are handed to the incident service's
`on_pagerduty_event`; anything else (e.g. the `pagey.ping` PagerDuty sends when a
subscription is created) is acknowledged and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.container import Rollbot

log = logging.getLogger(__name__)

INCIDENT_EVENTS = ("incident.triggered", "incident.acknowledged", "incident.resolved")
MAX_BODY = 1_000_000  # PagerDuty's payloads are a few KB; refuse anything absurd


class PagerDutyEventHandler(Protocol):
    """What the incident service implements to hear about PagerDuty incidents."""

    def __call__(
        self,
        event_type: str,
        incident_id: str,
        title: str,
        urgency: str,
        html_url: str,
        occurred_at: datetime,
    ) -> None: ...


def signature_valid(body: bytes, header: str | None, secret: str) -> bool:
    """True when one of the header's `v1=` signatures is the body's HMAC-SHA256."""
    if not header:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    found = False
    for part in header.split(","):
        version, _, signature = part.strip().partition("=")
        if version == "v1" and signature:
            # Compare every candidate (no early exit): time does not tell which one matched.
            found |= hmac.compare_digest(signature.strip().lower(), expected)
    return found


def _parse_event(body: bytes) -> tuple[str, dict[str, Any], datetime] | str:
    """(event_type, data, occurred_at) of a v3 webhook, or what is wrong with it."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # bad JSON or UTF-8, huge numbers, deep nesting
        return "body: not valid JSON"
    event = document.get("event") if isinstance(document, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("event_type"), str):
        return 'body: expected {"event": {"event_type": ...}} (a v3 webhook)'
    data = event.get("data")
    if not isinstance(data, dict):
        data = {}
    try:
        occurred_at = datetime.fromisoformat(str(event.get("occurred_at")))
    except ValueError:
        return "event.occurred_at: not an ISO 8601 time"
    if occurred_at.tzinfo is None:
        return "event.occurred_at: no time zone"
    return event["event_type"], data, occurred_at


def pagerduty_webhook_routes(
    rollbot: Rollbot, on_event: PagerDutyEventHandler | None = None
) -> list[Route]:
    """The webhook route; `on_event` defaults to the incident service's
    `on_pagerduty_event`."""
    pd = rollbot.settings.config.paging.pagerduty
    secret_env = pd.webhook_secret_env if pd is not None else None
    secret = rollbot.settings.env.get(secret_env) if secret_env else None
    handler: Callable[..., None] = on_event or rollbot.incidents.on_pagerduty_event

    async def receive(request: Request) -> JSONResponse:
        if not secret:
            # Fail closed: without a secret nothing can be verified, so nothing is accepted.
            hint = (
                f"set {secret_env} to the webhook subscription's signing secret"
                if secret_env
                else "configure paging.pagerduty.webhook_secret_env"
            )
            return JSONResponse({"error": "PagerDuty webhooks are not enabled", "hint": hint}, 503)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "body too large"}, 413)
        if not signature_valid(body, request.headers.get("x-pagerduty-signature"), secret):
            return JSONResponse({"error": "missing or invalid X-PagerDuty-Signature"}, 401)
        parsed = _parse_event(body)
        if isinstance(parsed, str):
            return JSONResponse({"error": parsed}, 400)
        event_type, data, occurred_at = parsed
        if event_type not in INCIDENT_EVENTS:
            return JSONResponse({"accepted": False, "ignored": event_type}, 202)
        incident_id = data.get("id")
        if not isinstance(incident_id, str) or not incident_id:
            return JSONResponse({"error": "event.data.id: missing incident id"}, 400)
        try:
            await run_in_threadpool(
                handler,
                event_type,
                incident_id,
                str(data.get("title") or ""),
                str(data.get("urgency") or ""),
                str(data.get("html_url") or ""),
                occurred_at,
            )
        except Exception:
            # 5xx makes PagerDuty deliver the event again later.
            log.exception("handling PagerDuty %s for %s failed", event_type, incident_id)
            return JSONResponse({"error": "the event could not be handled; retry later"}, 500)
        return JSONResponse({"accepted": True, "event_type": event_type}, 202)

    return [Route("/webhooks/pagerduty", receive, methods=["POST"])]
