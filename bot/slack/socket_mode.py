"""Slack over Socket Mode: rollbot opens a WebSocket to Slack instead of taking HTTP posts.

rollbot uses slack_sdk's Socket Mode client built on the `websocket-client` package (not
slack_sdk's built-in one: when Slack asks for a refresh, the built-in client (3.48) closes
the old connection under the lock its reader holds in a 3 s recv(), so for ~3 s nothing on
the new connection is read and a command arriving then is acked past Slack's 3 s limit).

The client asks `apps.connections.open` (with the app-level token) for a one-time URL,
connects, and from then on reconnects by itself: when Slack asks it to (`disconnect`), when
the socket is closed or fails, and every ping interval when it finds no connection.
`RollbotSocketModeClient` corrects two things in it and `connect_socket_mode` says what the
client does not:

- the client counts a connection as "connected" only once its socket exists, which is a
  moment after `connect()`: its monitor (run at once by `connect()`) and the old
  connection's close handler (during a refresh) saw "not connected" in that moment and each
  opened one more connection, with a fresh `apps.connections.open`;
- the client closes an old connection from another thread than the one reading it, which
  then sat in a select() for up to 10 s (no new connection read meanwhile, and a slow
  shutdown); `RollbotSocketModeClient` wakes the reader instead;
- a refused `apps.connections.open` (wrong or revoked token, Slack unreachable) raises
  from `connect()`, and nothing retries it: that is a configuration problem to report, not
  a traceback;
- `connect()` returns before the socket is open (and a failed WebSocket handshake is only
  logged), so `connect_socket_mode` waits, a bounded time, for the first connection to
  open or fail.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.websocket_client import SocketModeClient
from websocket import WebSocketApp

from bot.container import Rollbot
from bot.slack.app import build_slack_app
from bot.slack.listener import ARRIVED_AT
from bot.slack.work import SlackWork

# How long `connect_socket_mode` waits for the first WebSocket to open (or fail) before it
# says "not open yet" and leaves the client to keep trying in the background.
OPEN_TIMEOUT = 10.0


class SocketModeUnavailable(Exception):
    """Slack would not give rollbot a Socket Mode connection; `str()` says why and what to do."""


class RollbotSocketModeClient(SocketModeClient):
    """slack_sdk's websocket-client Socket Mode client, counting a connection as connected
    from the moment it is made until it is seen to fail or close, and closing an old
    connection without stalling the session thread (see `connect`).

    The SDK's `is_connected()` is "the socket exists", and the socket only exists once the
    client's session thread (which polls every 0.5 s) has started the WebSocket handshake.
    `connect_to_new_endpoint()` opens another connection whenever `is_connected()` is false,
    and the client calls it at two moments when the current connection is merely not
    started yet: from its monitor, run once straight away by the first `connect()`, and
    from the old connection's close handler when a refresh replaced it. Each time that
    cost a second `apps.connections.open` and threw the first new connection away.

    Here a connection counts as connected unless `on_error` or `on_close` (the client's
    public listener lists) was seen for it after it was made, or since it last opened. A
    failed handshake calls `on_error` before the client's own close handler, so the
    client's reconnect after a failure still happens.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._ended: weakref.WeakSet[WebSocketApp] = weakref.WeakSet()
        self._opened = threading.Event()
        self._attempted = threading.Event()  # a connection opened or failed
        self.on_open_listeners.append(self._opened_session)
        self.on_error_listeners.append(self._failed_session)
        self.on_close_listeners.append(self._closed_session)

    def is_connected(self) -> bool:
        session = self.current_session
        with self._lock:
            return session is not None and session not in self._ended

    def connect(self) -> None:
        """Make a new connection current and close the old one, if any (a refresh).

        The SDK's `connect()` closes the old connection itself with `WebSocketApp.close()`,
        from this thread, while the client's session thread waits in `select()` on that
        socket: the close handshake and the file descriptor's close win the race, the wait
        then only ends at its 10 s timeout, and only after it does the session thread start
        the new connection. So the old connection is taken out of the SDK's hands here and
        closed by `_close_session`, which wakes the session thread instead.
        """
        old = self.current_session
        self.current_session = None  # so that super().connect() does not close it
        try:
            super().connect()
        finally:
            if self.current_session is None:  # connect() failed: leave things as they were
                self.current_session = old
        if old is not None and old is not self.current_session:
            _close_session(old)

    def disconnect(self) -> None:
        """Close the current connection (without the SDK's 10 s stall, see `connect`)."""
        session = self.current_session
        if session is not None:
            _close_session(session)

    def wait_until_open(self, timeout: float) -> bool:
        """Wait until the first connection opened (True), or failed or `timeout` passed
        (False; the client keeps trying in the background either way)."""
        self._attempted.wait(timeout)
        return self._opened.is_set()

    def _opened_session(self, session: WebSocketApp) -> None:
        with self._lock:
            self._ended.discard(session)
        self._opened.set()
        self._attempted.set()

    def _failed_session(self, session: WebSocketApp, error: Exception) -> None:
        with self._lock:
            self._ended.add(session)
        self._attempted.set()

    def _closed_session(self, session: WebSocketApp) -> None:
        with self._lock:
            self._ended.add(session)


def _close_session(session: WebSocketApp) -> None:
    """Close `session` by waking the thread reading it, which then tears it down (and calls
    `on_close`) itself. The socket is shut down without a WebSocket close frame (Slack sees
    the TCP connection end). A session not started yet is left alone: the client's session
    thread only ever starts the current one."""
    session.keep_running = False  # what WebSocketApp.close() does first, too
    sock = session.sock
    if sock is not None:
        # websocket-client's "asynchronous abort, wakes up other threads that are waiting"
        sock.abort()  # type: ignore[no-untyped-call]


class RollbotSocketModeHandler(SocketModeHandler):
    """Bolt's websocket-client Socket Mode handler over `RollbotSocketModeClient`.

    Bolt's handler builds its client in `__init__` with no way to choose the class, so
    this one does what that `__init__` does (keep the app and token, make the client,
    route its requests to `handle`) with the corrected client. `handle` is Bolt's, plus
    the request's arrival noted in its context (rollbot_ack_seconds is timed from there).
    """

    client: RollbotSocketModeClient

    def __init__(self, app: App, app_token: str) -> None:
        self.app = app
        self.app_token = app_token
        self.client = RollbotSocketModeClient(
            app_token=app_token, logger=app.logger, web_client=app.client
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        """Dispatch one request to the Bolt app and send its ack back over the socket."""
        arrived, start = time.monotonic(), time.time()
        bolt_request = BoltRequest(
            mode="socket_mode",
            body=req.payload,
            headers=build_headers(req),
            context={ARRIVED_AT: arrived},
        )
        send_response(client, req, self.app.dispatch(bolt_request), start)


@dataclass
class SocketModeConnection:
    """The running Socket Mode handler, and whether its first connection attempt worked."""

    handler: RollbotSocketModeHandler
    connected: bool
    work: SlackWork

    def close(self) -> None:
        """Stop reconnecting and close the socket (rollbot is shutting down), then let the
        work of the requests already acked finish (or leave it to the next replica)."""
        self.handler.close()  # type: ignore[no-untyped-call]
        self.work.close()


def connect_socket_mode(
    rollbot: Rollbot, client: WebClient, open_timeout: float = OPEN_TIMEOUT
) -> SocketModeConnection:
    """Serve Slack for `rollbot` (built with Slack's chat ports on `client`) over Socket
    Mode, reconnecting in the background.

    Waits up to `open_timeout` seconds for the WebSocket to open. Raises
    SocketModeUnavailable when Slack refuses the app token or cannot be reached.
    """
    settings = rollbot.settings
    if not settings.slack_app_token:
        raise SocketModeUnavailable("Socket Mode needs SLACK_APP_TOKEN (an xapp- token)")
    app = build_slack_app(rollbot, client, socket_mode=True)
    handler = RollbotSocketModeHandler(app, settings.slack_app_token)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except SlackApiError as exc:
        handler.close()  # type: ignore[no-untyped-call]
        app.work.close()
        error = exc.response.get("error", "unknown_error")
        raise SocketModeUnavailable(
            f"Slack refused apps.connections.open: {error} (hint: SLACK_APP_TOKEN must be "
            "the app-level token, xapp-..., with the connections:write scope, and Socket "
            "Mode must be turned on in the app's settings)"
        ) from None
    except OSError as exc:  # urllib's URLError and refused connections
        handler.close()  # type: ignore[no-untyped-call]
        app.work.close()
        raise SocketModeUnavailable(
            f"cannot reach the Slack Web API at {settings.slack_api_url}: {exc} "
            "(hint: check SLACK_API_URL and the network)"
        ) from None
    return SocketModeConnection(
        handler, connected=handler.client.wait_until_open(open_timeout), work=app.work
    )
