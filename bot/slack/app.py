"""The Bolt app: verified requests in, listeners registered explicitly, their work run by
the app's pool of worker threads (bot/slack/work.py).

Slack as rollbot's chat (the ports the services talk through) is built before the app, by
bot/slack/chat.py, and handed to `bot.container.build`; the app shares its client.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.container import Rollbot
from bot.slack.incident_listeners import register_incidents
from bot.slack.listener import Listeners
from bot.slack.rollback_listeners import register_rollback
from bot.slack.rollout_listeners import register_rollouts
from bot.slack.signoff_listeners import register_signoff
from bot.slack.work import SlackWork

log = logging.getLogger(__name__)


class RollbotApp(App):
    """Bolt's App, with the pool of worker threads its listeners hand their work to: the
    server stops it (`work.close()`) when it stops, tests wait on it (`work.wait_idle()`)."""

    def __init__(self, work: SlackWork, **bolt: Any) -> None:
        super().__init__(**bolt)
        self.work = work


def build_slack_app(
    rollbot: Rollbot, client: WebClient, *, socket_mode: bool = False
) -> RollbotApp:
    """A Bolt app for `rollbot` (built with Slack's chat ports), sharing their `client`,
    its work pool started (`slack.workers` threads).

    Listeners ack first and hand the work to the pool (`process_before_response=False`),
    so Slack always gets its answer within 3 s, and an ack never waits for earlier
    requests' work. Requests over HTTP always have their signature verified; over Socket
    Mode they arrive on a socket rollbot opened with its app token, so no signing secret is
    needed (Bolt skips the check for them).
    """
    settings = rollbot.settings
    if not socket_mode and not settings.slack_signing_secret:
        raise ValueError("Slack over HTTP needs SLACK_SIGNING_SECRET")
    work = SlackWork(
        rollbot.requests, settings.config.slack.workers, on_given_up=rollbot.telemetry.command
    )
    app = RollbotApp(
        work,
        # The token travels with `client`; passing it again only makes Bolt warn.
        client=client,
        # Explicit, even when empty: otherwise Bolt would read SLACK_SIGNING_SECRET itself.
        signing_secret=settings.slack_signing_secret or "",
        process_before_response=False,
        request_verification_enabled=True,
        logger=logging.getLogger("bot.slack.bolt"),
    )
    listeners = Listeners(rollbot, client, work)
    register_signoff(app, rollbot, listeners)
    register_rollouts(app, rollbot, listeners)
    register_rollback(app, rollbot, listeners)
    register_incidents(app, rollbot, listeners)
    # Registered last, so any listener for a specific event comes first and wins. The
    # manifest subscribes to events that later features act on; an event no listener
    # takes would get Bolt's 404 (no ack over Socket Mode), and Slack redelivers those
    # and turns event delivery off for apps that fail most of them.
    app.event(re.compile(".*"))(_ignore_event)
    work.start()
    return app


def _ignore_event(event: dict[str, Any]) -> None:
    """Accept an event rollbot does not act on (Bolt acks events by itself)."""
    log.debug("ignoring %s event", event.get("type"))
