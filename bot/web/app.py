"""The ASGI application."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.container import Rollbot
from bot.web.alertmanager import alertmanager_routes
from bot.web.flags import flag_routes
from bot.web.pagerduty_webhook import pagerduty_webhook_routes
from bot.web.status import status_routes


def create_app(rollbot: Rollbot, slack_app: Any | None = None) -> Starlette:
    """The web app; `/slack/events` is served when a Bolt app is given."""
    registry = CollectorRegistry()
    active = Gauge("rollbot_rollouts_active", "Running or paused rollouts", registry=registry)
    percentage = Gauge(
        "rollbot_rollout_percentage",
        "Current percentage of active rollouts",
        ["flag"],
        registry=registry,
    )

    async def healthz(_request: Request) -> JSONResponse:
        report = await run_in_threadpool(rollbot.health.check)
        if not report.ok:
            return JSONResponse(
                {
                    "status": "error",
                    "database": "unavailable",
                    "error": report.error,
                    "detail": f"the {report.database} database does not answer",
                },
                503,
            )
        return JSONResponse(
            {"status": "ok", "database": report.database, "slack": slack_app is not None}
        )

    async def metrics(_request: Request) -> Response:
        views = await run_in_threadpool(rollbot.rollouts.active)
        active.set(len(views))
        percentage.clear()
        for v in views:
            percentage.labels(flag=v.flag_key).set(v.percentage)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *flag_routes(rollbot),
        *status_routes(rollbot),
        *pagerduty_webhook_routes(rollbot),
        *alertmanager_routes(rollbot),
    ]
    if slack_app is not None:
        from bot.slack.http import slack_events

        secret = rollbot.settings.slack_signing_secret or ""
        endpoint = slack_events(slack_app, secret)
        routes.append(Route("/slack/events", endpoint, methods=["POST"]))
    else:

        async def slack_disabled(_request: Request) -> PlainTextResponse:
            return PlainTextResponse(
                "Slack is not connected: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET "
                "(and SLACK_APP_TOKEN for Socket Mode) and restart rollbot.",
                503,
            )

        routes.append(Route("/slack/events", slack_disabled, methods=["POST"]))
    return Starlette(routes=routes)
