"""The ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
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
from bot.web.ofrep import ofrep_routes
from bot.web.pagerduty_webhook import pagerduty_webhook_routes
from bot.web.status import status_routes
from bot.web.unleash_api import unleash_api_routes

log = logging.getLogger(__name__)


async def poll_flag_state(rollbot: Rollbot) -> None:
    """Reload the flags in memory whenever another replica (or a runbook) changed one: one
    version row read every `flags.state_poll_seconds`. A database that does not answer is
    logged once per outage; the flags last loaded keep being served meanwhile."""
    snapshot = rollbot.flag_api.snapshot
    if snapshot is None:
        return
    failing = False
    while True:
        await asyncio.sleep(snapshot.poll_seconds)
        try:
            await run_in_threadpool(snapshot.poll)
        except Exception as exc:
            if not failing:
                log.warning("flag state: cannot read the database (%s)", type(exc).__name__)
            failing = True
        else:
            failing = False


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
        *ofrep_routes(rollbot),
        *unleash_api_routes(rollbot),
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

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        poller = asyncio.create_task(poll_flag_state(rollbot))
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller

    return Starlette(routes=routes, lifespan=lifespan)


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
        # The database's kind when it answers; "unavailable" (and the error's kind) when not.
        "database": report.database if report.database_ok else "unavailable",
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
    if not report.database_ok:
        body["error"] = report.error
        body["detail"] = f"the {report.database} database does not answer"
    if problems:
        body["problems"] = problems
    return body
