"""`POST /webhooks/alertmanager`: Prometheus Alertmanager's webhook receiver.

Alertmanager sends `Authorization: Bearer <token>` when its receiver has
`http_config.authorization.credentials`; rollbot compares it with the env var named in
`incidents.alertmanager.token_env`. Without that token configured every request is refused:
an open door would let anyone on the network declare incidents and page people.
"""

from __future__ import annotations

import hmac
import json
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.container import Rollbot
from bot.domain.alerts import AlertPayloadError, parse_alertmanager

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000


def alertmanager_routes(rollbot: Rollbot) -> list[Route]:
    """The Alertmanager receiver route."""
    cfg = rollbot.settings.config.incidents.alertmanager

    async def receive(request: Request) -> JSONResponse:
        expected = rollbot.settings.env.get(cfg.token_env) or ""
        if not expected:
            return JSONResponse(
                {
                    "error": f"Alertmanager webhooks are off: set {cfg.token_env} and configure "
                    "it as the receiver's bearer token."
                },
                403,
            )
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            return JSONResponse({"error": "missing or wrong bearer token"}, 401)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "body too large"}, 413)
        try:
            group = parse_alertmanager(json.loads(body or b"null"))
        except (ValueError, RecursionError, AlertPayloadError) as exc:
            return JSONResponse({"error": f"not an Alertmanager webhook payload: {exc}"}, 400)
        try:
            result = await run_in_threadpool(rollbot.incidents.alert, group)
        except Exception:
            log.exception("Alertmanager webhook failed")
            # 500 makes Alertmanager retry the notification later.
            return JSONResponse({"error": "rollbot could not record the alert"}, 500)
        return JSONResponse({"action": result.action, "incident": result.incident_key})

    return [Route("/webhooks/alertmanager", receive, methods=["POST"])]
