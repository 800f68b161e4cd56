"""The ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
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


def create_app(rollbot: Rollbot, slack_app: Any | None = None) -> Starlette:
    """The web app; `/slack/events` is served when a Bolt app is given."""
    registry = CollectorRegistry()
    registry.register(rollbot.exposures.counter)
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
            return JSONResponse({"status": "error", "database": report.error}, 503)
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
