"""Rollout cards in Slack: one message per rollout, edited in place, events in its thread.

Editing one message (`chat.update`) instead of posting a new one per change keeps channels
readable and stays far from chat.postMessage's one-message-per-second limit. Failures raise:
the rollout service then keeps the notification in its outbox and retries it later.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.services.rollouts.notifier import CardLocation, ThreadText
from bot.services.rollouts.views import RolloutView
from bot.services.telemetry import Telemetry
from bot.slack.blocks import card_text, chat_text, rollout_card, truncate

log = logging.getLogger(__name__)

# Cards posted by the shell adapter live in this pseudo-channel (bot/shell/notifier.py).
SHELL_CHANNEL = "shell"
MAX_MESSAGE_TEXT = 4000


class CountingWebClient(WebClient):
    """slack_sdk's WebClient, counting each Web API call (after its retries) by method and
    outcome: ok, ratelimited (429 after the retries), error (Slack said `ok: false` or
    answered another HTTP error) or unreachable (no answer).

    Every method of WebClient (`chat_postMessage`, `conversations_open`, ...) and Bolt's own
    calls go through `api_call`, so this is the one place that sees them all.
    """

    def __init__(self, *args: Any, telemetry: Telemetry, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.telemetry = telemetry

    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        """Call `api_method` and count how it ended."""
        try:
            response = super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            limited = getattr(exc.response, "status_code", None) == 429
            self.telemetry.slack_call(api_method, "ratelimited" if limited else "error")
            raise
        except Exception:
            self.telemetry.slack_call(api_method, "unreachable")
            raise
        self.telemetry.slack_call(api_method, "ok")
        return response


def build_client(
    token: str | None, base_url: str, telemetry: Telemetry | None = None
) -> WebClient:
    """A WebClient that retries rate limits (honouring Retry-After), dropped connections
    and Slack's 5xx answers before giving up; with `telemetry`, every call is counted."""
    retry_handlers = [
        RateLimitErrorRetryHandler(max_retry_count=3),
        ConnectionErrorRetryHandler(),
        ServerErrorRetryHandler(),
    ]
    if telemetry is not None:
        return CountingWebClient(
            token=token, base_url=base_url, retry_handlers=retry_handlers, telemetry=telemetry
        )
    return WebClient(token=token, base_url=base_url, retry_handlers=retry_handlers)


class SlackNotifier:
    """A `RolloutNotifier` posting cards with the Slack Web API."""

    def __init__(self, client: WebClient, default_channel: str | None = None) -> None:
        self.client = client
        self.default_channel = default_channel

    def _target(self, view: RolloutView) -> str | None:
        channel = view.channel_id
        if channel in (None, SHELL_CHANNEL):
            return self.default_channel
        if channel.startswith("D") and self.default_channel:
            # Started from a direct message: the team's rollout channel should see it.
            return self.default_channel
        return channel

    def _posted_in_slack(self, view: RolloutView) -> bool:
        return view.message_ts is not None and view.channel_id not in (None, SHELL_CHANNEL)

    def show_card(self, view: RolloutView) -> CardLocation | None:
        """Post the card the first time, then edit that same message in place."""
        blocks = rollout_card(view)
        text = card_text(view)
        if self._posted_in_slack(view):
            assert view.channel_id is not None and view.message_ts is not None
            self.client.chat_update(
                channel=view.channel_id, ts=view.message_ts, text=text, blocks=blocks
            )
            return CardLocation(view.channel_id, view.message_ts)
        channel = self._target(view)
        if channel is None:
            log.info("rollout %s has no Slack channel; card not posted", view.id)
            return None
        response = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        return CardLocation(str(response["channel"]), str(response["ts"]))

    def post_event(self, view: RolloutView, message: ThreadText) -> None:
        """Post `message` as a reply in the card's thread."""
        text = chat_text(message)
        if not self._posted_in_slack(view):
            log.info("rollout %s (%s): %s", view.id, view.flag_key, text)
            return
        assert view.channel_id is not None and view.message_ts is not None
        self.client.chat_postMessage(
            channel=view.channel_id,
            thread_ts=view.message_ts,
            text=truncate(text, MAX_MESSAGE_TEXT),
        )
