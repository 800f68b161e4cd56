"""Slack over Socket Mode: rollbot opens a WebSocket to Slack instead of taking HTTP posts.

slack_sdk's built-in client asks `apps.connections.open` (with the app-level token) for a
one-time URL, connects, and from then on reconnects by itself: when Slack asks it to
(`disconnect`), when the socket goes quiet, and when a connection attempt failed. Two
things it does not say, which `connect_socket_mode` does:

- a refused `apps.connections.open` (wrong or revoked token, Slack unreachable) raises
  from deep inside the SDK, and nothing retries it: that is a configuration problem to
  report, not a traceback;
- a failed WebSocket handshake is only logged, and `connect()` returns as if connected.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

from bot.container import Rollbot
from bot.slack.app import build_slack_app


class SocketModeUnavailable(Exception):
    """Slack would not give rollbot a Socket Mode connection; `str()` says why and what to do."""


@dataclass
class SocketModeConnection:
    """The running Socket Mode handler, and whether its first connection attempt worked."""

    handler: SocketModeHandler
    connected: bool

    def close(self) -> None:
        """Stop reconnecting and close the socket (rollbot is shutting down)."""
        self.handler.close()  # type: ignore[no-untyped-call]


def connect_socket_mode(rollbot: Rollbot) -> SocketModeConnection:
    """Serve Slack for `rollbot` over Socket Mode, reconnecting in the background.

    Raises SocketModeUnavailable when Slack refuses the app token or cannot be reached.
    """
    settings = rollbot.settings
    if not settings.slack_app_token:
        raise SocketModeUnavailable("Socket Mode needs SLACK_APP_TOKEN (an xapp- token)")
    handler = SocketModeHandler(
        build_slack_app(rollbot, socket_mode=True), settings.slack_app_token
    )
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except SlackApiError as exc:
        handler.close()  # type: ignore[no-untyped-call]
        error = exc.response.get("error", "unknown_error")
        raise SocketModeUnavailable(
            f"Slack refused apps.connections.open: {error} (hint: SLACK_APP_TOKEN must be "
            "the app-level token, xapp-..., with the connections:write scope, and Socket "
            "Mode must be turned on in the app's settings)"
        ) from None
    except OSError as exc:  # urllib's URLError and refused connections
        handler.close()  # type: ignore[no-untyped-call]
        raise SocketModeUnavailable(
            f"cannot reach the Slack Web API at {settings.slack_api_url}: {exc} "
            "(hint: check SLACK_API_URL and the network)"
        ) from None
    return SocketModeConnection(handler, connected=bool(handler.client.is_connected()))
