"""OFREP over HTTP: `POST /ofrep/v1/evaluate/flags/{key}` and `POST /ofrep/v1/evaluate/flags`.

Evaluation is in memory, so it runs on the event loop; the flags are loaded in the thread
pool only when this process has none yet.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.container import Rollbot
from bot.services.flags import FlagState
from bot.services.flags.ofrep import OfrepAnswer
from bot.web.tokens import NO_CLIENT_TOKEN, BodyTooLarge, may_read, read_body

log = logging.getLogger(__name__)


async def flag_state(rollbot: Rollbot) -> FlagState | None:
    """The flags in memory (loaded once if this process has none yet); None when they
    have never been loaded and the database does not answer."""
    snapshot = rollbot.flag_api.snapshot
    assert snapshot is not None  # checked by `available` first
    state = snapshot.current()
    if state is not None:
        return state
    try:
        return await run_in_threadpool(snapshot.reload)
    except Exception as exc:
        log.warning("flag state: cannot load flags (%s)", type(exc).__name__)
        return None


UNLOADED = "flags are not loaded yet: rollbot's database does not answer; try again shortly"


def _unauthorized(rollbot: Rollbot) -> JSONResponse:
    configured = rollbot.settings.client_token is not None
    details = (
        "send the client token as Authorization: Bearer <ROLLBOT_CLIENT_TOKEN> or X-API-Key"
        if configured
        else NO_CLIENT_TOKEN
    )
    return JSONResponse(
        {"errorCode": "GENERAL", "errorDetails": details},
        401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _send(answer: OfrepAnswer) -> Response:
    headers = {"ETag": answer.etag} if answer.etag else {}
    if answer.body is None:
        return Response(status_code=answer.status, headers=headers)
    return JSONResponse(answer.body, answer.status, headers=headers)


def ofrep_routes(rollbot: Rollbot) -> list[Route]:
    """OFREP's evaluation routes, read with the client token (or the API token)."""

    async def guard(request: Request) -> Response | bytes:
        settings = rollbot.settings
        if settings.client_token is None or not may_read(
            request, settings.client_token, settings.api_token
        ):
            return _unauthorized(rollbot)
        if (why := rollbot.ofrep.available()) is not None:
            return JSONResponse({"errorDetails": why}, 503)
        try:
            return await read_body(request)
        except BodyTooLarge:
            return JSONResponse(
                {"errorCode": "PARSE_ERROR", "errorDetails": "body: larger than 1 MB"}, 413
            )

    def answering(
        answer: Callable[[Request, bytes, FlagState], OfrepAnswer],
    ) -> Callable[[Request], Awaitable[Response]]:
        """An OFREP endpoint: `guard`'s refusals, 503 while no flags are loaded, else
        `answer` for the request's body and the flags as they are."""

        async def endpoint(request: Request) -> Response:
            body = await guard(request)
            if isinstance(body, Response):
                return body
            state = await flag_state(rollbot)
            if state is None:
                return JSONResponse({"errorDetails": UNLOADED}, 503)
            return _send(answer(request, body, state))

        return endpoint

    def evaluate(request: Request, body: bytes, state: FlagState) -> OfrepAnswer:
        return rollbot.ofrep.evaluate(request.path_params["key"], body, state)

    def bulk(request: Request, body: bytes, state: FlagState) -> OfrepAnswer:
        return rollbot.ofrep.bulk(body, state, request.headers.get("if-none-match"))

    return [
        Route("/ofrep/v1/evaluate/flags/{key:path}", answering(evaluate), methods=["POST"]),
        Route("/ofrep/v1/evaluate/flags", answering(bulk), methods=["POST"]),
    ]
