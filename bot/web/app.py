"""The ASGI application."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.container import Rollbot
from bot.services.health import HealthReport
from bot.web.alertmanager import alertmanager_routes
from bot.web.dashboard import dashboard_routes
from bot.web.flags import flag_routes
from bot.web.pagerduty_webhook import pagerduty_webhook_routes
from bot.web.status import status_routes


def create_app(
    rollbot: Rollbot, slack_app: Any | None = None, *, host: str | None = None
) -> Starlette:
    """The web app; `/slack/events` is served when a Bolt app is given. `host` is the
    address the server listens on (default `web.host`): the dashboard needs no login only
    on a loopback address (bot/web/dashboard.py)."""

    async def healthz(_request: Request) -> JSONResponse:
        report = await run_in_threadpool(rollbot.health.check)
        return JSONResponse(health_json(report, slack_app is not None), 200 if report.ok else 503)

    async def metrics(_request: Request) -> Response:
        # The gauges are read from the database while rendering: off the event loop.
        page = await run_in_threadpool(rollbot.telemetry.render)
        return Response(page, media_type=rollbot.telemetry.content_type)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *dashboard_routes(rollbot, host or rollbot.settings.config.web.host),
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


def health_json(report: HealthReport, slack: bool) -> dict[str, Any]:
    """`/healthz`'s answer: overall status, then the database and the scheduler, and when
    something is wrong, `problems` saying what."""
    scheduler = report.scheduler
    problems: list[str] = []
    if not report.database_ok:
        problems.append(f"the database does not answer ({report.error})")
    if not scheduler.ok:
        last = (
            f"; last tick {scheduler.last_tick_at.isoformat()}"
            if scheduler.last_tick_at is not None
            else ""
        )
        problems.append(f"the scheduler is {scheduler.state}{last}")
    body: dict[str, Any] = {
        "status": "ok" if report.ok else "error",
        # The database's kind when it answers; the error's kind when it does not.
        "database": report.database if report.database_ok else report.error,
        "scheduler": {
            "state": scheduler.state,
            "last_tick_at": (
                scheduler.last_tick_at.isoformat() if scheduler.last_tick_at else None
            ),
            "stale_after_seconds": (
                scheduler.stale_after.total_seconds() if scheduler.stale_after else None
            ),
        },
        "slack": slack,
    }
    if problems:
        body["problems"] = problems
    return body
