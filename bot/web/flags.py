"""The built-in flag API: GET/POST /flags/{key} and GET /flags/{key}/evaluate.

Database and provider calls run in the thread pool so they never block the event loop.
"""

from __future__ import annotations

import hmac
import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.domain.errors import FlagSystemError, InvalidTransition, RollbotError
from bot.domain.flag import FLAG_KEY_HINT, is_valid_flag_key, parse_flag_change
from bot.services.flags import UnknownSegmentError
from bot.web.tokens import presented, same

# Query parameters of /evaluate that are not context fields for segments' constraints.
EVALUATE_PARAMS = ("userId", "segment")


def _bad_key(key: str) -> JSONResponse | None:
    if is_valid_flag_key(key):
        return None
    return JSONResponse({"error": f"invalid flag key {key!r}: {FLAG_KEY_HINT}"}, 400)


def _authorized(request: Request, token: str | None) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if token is None or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _unauthorized(token: str | None) -> JSONResponse:
    """401 for a write without the API token, saying how to send (or set) it."""
    hint = (
        "set ROLLBOT_API_TOKEN on the server to enable writes"
        if token is None
        else "send Authorization: Bearer <ROLLBOT_API_TOKEN>"
    )
    return JSONResponse(
        {"error": "unauthorized", "hint": hint}, 401, headers={"WWW-Authenticate": "Bearer"}
    )


def _upstream_failed(exc: FlagSystemError) -> JSONResponse:
    # A remote flag provider (http, unleash) failed: a gateway error, with its message.
    return JSONResponse({"error": exc.message, "hint": exc.hint}, 502)


def flag_routes(rollbot: Rollbot) -> list[Route]:
    """Routes of the flag API, bound to a running rollbot."""

    async def get_flag(request: Request) -> JSONResponse:
        key = request.path_params["key"]
        if (bad := _bad_key(key)) is not None:
            return bad
        try:
            doc = await run_in_threadpool(rollbot.flag_api.get, key)
        except FlagSystemError as exc:
            return _upstream_failed(exc)
        if doc is None:
            return JSONResponse({"error": f"flag {key!r} does not exist"}, 404)
        return JSONResponse(doc.model_dump())

    async def post_flag(request: Request) -> JSONResponse:
        key = request.path_params["key"]
        given = presented(request)
        if given is not None and same(given, rollbot.settings.client_token):
            return JSONResponse(
                {
                    "error": "forbidden",
                    "hint": "ROLLBOT_CLIENT_TOKEN only reads flags; writes need ROLLBOT_API_TOKEN",
                },
                403,
            )
        if not _authorized(request, rollbot.settings.api_token):
            return _unauthorized(rollbot.settings.api_token)
        if (bad := _bad_key(key)) is not None:
            return bad
        try:
            body = json.loads(await request.body() or b"null")
        except (ValueError, RecursionError) as exc:  # bad JSON, a 5,000-digit number, deep
            return JSONResponse({"error": f"body: not valid JSON ({exc})"}, 422)
        try:
            change = parse_flag_change(body)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        try:
            actor = Actor("api", Via.API)
            doc = await run_in_threadpool(rollbot.flag_api.apply, key, change, actor)
        except UnknownSegmentError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        except FlagSystemError as exc:
            return _upstream_failed(exc)
        return JSONResponse(doc.model_dump())

    async def delete_flag(request: Request) -> JSONResponse:
        key = request.path_params["key"]
        if not _authorized(request, rollbot.settings.api_token):
            return _unauthorized(rollbot.settings.api_token)
        if (bad := _bad_key(key)) is not None:
            return bad
        try:
            actor = Actor("api", Via.API)
            removed = await run_in_threadpool(rollbot.flag_api.remove, key, actor)
        except InvalidTransition as exc:
            return JSONResponse({"error": str(exc.message), "hint": str(exc.hint)}, 409)
        except RollbotError as exc:  # a remote flag system removes its own flags
            return JSONResponse({"error": str(exc.message), "hint": str(exc.hint)}, 405)
        if not removed:
            return JSONResponse({"error": f"flag {key!r} does not exist"}, 404)
        return JSONResponse({"removed": key})

    async def evaluate_flag(request: Request) -> JSONResponse:
        key = request.path_params["key"]
        if (bad := _bad_key(key)) is not None:
            return bad
        user_id = request.query_params.get("userId")
        if not user_id:
            return JSONResponse({"error": "userId: required query parameter"}, 422)
        segments = request.query_params.getlist("segment")
        fields = {k: v for k, v in request.query_params.items() if k not in EVALUATE_PARAMS}
        api = rollbot.flag_api
        try:
            if api.snapshot is not None and api.snapshot.current() is not None:
                # The builtin store's flags are in memory: no thread hop, no database.
                result = api.evaluate(key, user_id, segments, fields)
            else:  # a remote provider, or flags not loaded yet: this may wait on I/O
                result = await run_in_threadpool(api.evaluate, key, user_id, segments, fields)
        except FlagSystemError as exc:
            return _upstream_failed(exc)
        if result is None:
            return JSONResponse({"error": f"flag {key!r} does not exist"}, 404)
        return JSONResponse(
            {
                "flag": key,
                "userId": user_id,
                "enabled": result.enabled,
                "variant": result.variant,
                "payload": None if result.payload is None else result.payload.model_dump(),
                "reason": result.detail,
                "kind": str(result.reason),
            }
        )

    return [
        Route("/flags/{key}", get_flag, methods=["GET"]),
        Route("/flags/{key}", post_flag, methods=["POST"]),
        Route("/flags/{key}", delete_flag, methods=["DELETE"]),
        Route("/flags/{key}/evaluate", evaluate_flag, methods=["GET"]),
    ]
