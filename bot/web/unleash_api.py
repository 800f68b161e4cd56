"""Unleash's client API over HTTP, for Unleash SDKs given `<rollbot>/api` as their URL:
`GET /api/client/features[/{name}]` (ETag / 304), `POST /api/client/register` and
`POST /api/client/metrics` (202). SDKs send the token bare (`Authorization: <token>`)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.container import Rollbot
from bot.services.flags.unleash_api import Features
from bot.web.ofrep import UNLOADED, flag_state
from bot.web.tokens import NO_CLIENT_TOKEN, BodyTooLarge, may_read, read_body


def unleash_api_routes(rollbot: Rollbot) -> list[Route]:
    """The client API routes, read with the client token (or the API token)."""
    api = rollbot.unleash_api

    def refused(request: Request) -> Response | None:
        settings = rollbot.settings
        if settings.client_token is None:
            return JSONResponse({"error": "unauthorized", "hint": NO_CLIENT_TOKEN}, 401)
        if not may_read(request, settings.client_token, settings.api_token, bare=True):
            hint = "send Authorization: <ROLLBOT_CLIENT_TOKEN> (the SDK's API token)"
            return JSONResponse({"error": "unauthorized", "hint": hint}, 401)
        if (why := rollbot.ofrep.available()) is not None:
            return JSONResponse({"error": why}, 503)
        return None

    def send(request: Request, answer: Features) -> Response:
        headers = {"ETag": answer.etag, "Cache-Control": "no-cache"}
        match = request.headers.get("if-none-match", "")
        if answer.etag in {t.strip().removeprefix("W/") for t in match.split(",")}:
            return Response(status_code=304, headers=headers)
        return Response(answer.body, 200, headers=headers, media_type="application/json")

    async def features(request: Request) -> Response:
        if (no := refused(request)) is not None:
            return no
        state = await flag_state(rollbot)
        if state is None:
            return JSONResponse({"error": UNLOADED}, 503)
        return send(request, api.all(state))

    async def one(request: Request) -> Response:
        if (no := refused(request)) is not None:
            return no
        name = request.path_params["name"]
        state = await flag_state(rollbot)
        if state is None:
            return JSONResponse({"error": UNLOADED}, 503)
        answer = api.one(name, state)
        if answer is None:
            return JSONResponse({"error": f"flag {name!r} does not exist"}, 404)
        return send(request, answer)

    async def report(request: Request, handle: str) -> Response:
        if (no := refused(request)) is not None:
            return no
        try:
            body = json.loads(await read_body(request))
        except BodyTooLarge:
            return JSONResponse({"error": "body: larger than 1 MB"}, 413)
        except (ValueError, RecursionError) as exc:
            return JSONResponse({"error": f"body: not valid JSON ({exc})"}, 400)
        try:
            if handle == "metrics":
                api.metrics(body)
            else:
                api.register(body)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return Response(status_code=202)

    async def metrics(request: Request) -> Response:
        return await report(request, "metrics")

    async def register(request: Request) -> Response:
        return await report(request, "register")

    return [
        Route("/api/client/features", features, methods=["GET"]),
        Route("/api/client/features/{name:path}", one, methods=["GET"]),
        Route("/api/client/metrics", metrics, methods=["POST"]),
        Route("/api/client/register", register, methods=["POST"]),
    ]
