"""The Bolt app: verified requests in, listeners registered explicitly, Slack as notifier."""

from __future__ import annotations

import logging

from slack_bolt import App

from bot.container import Rollbot
from bot.slack.incident_listeners import acknowledge_other_events, register_incidents
from bot.slack.listeners import register
from bot.slack.notifier import SlackNotifier, build_client

log = logging.getLogger(__name__)


def build_slack_app(rollbot: Rollbot) -> App:
    """A Bolt app for `rollbot`, which from now on shows rollouts in Slack.

    Listeners ack first and do the work afterwards (`process_before_response=False`), so
    Slack always gets its answer within 3 s. Request signatures are always verified.
    """
    settings = rollbot.settings
    if not settings.slack_bot_token or not settings.slack_signing_secret:
        raise ValueError("Slack needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
    client = build_client(settings.slack_bot_token, settings.slack_api_url)
    app = App(
        # The token travels with `client`; passing it again only makes Bolt warn.
        client=client,
        signing_secret=settings.slack_signing_secret,
        process_before_response=False,
        request_verification_enabled=True,
        logger=logging.getLogger("bot.slack.bolt"),
    )
    register(app, rollbot)
    register_incidents(app, rollbot)
    acknowledge_other_events(app)  # last: after every reaction_added listener
    rollbot.set_notifier(SlackNotifier(client, settings.config.slack.rollout_channel))
    return app
