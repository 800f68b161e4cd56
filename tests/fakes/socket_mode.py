"""A fake Slack Socket Mode endpoint: a real WebSocket server the bot connects to.

Socket Mode turns Slack's delivery around: the app calls ``apps.connections.open`` with its
app-level token (``xapp-...``), gets a one-time ``wss://`` URL, opens a WebSocket there and
receives every slash command, interaction and event as an *envelope*::

    {"envelope_id": "...", "type": "slash_commands" | "interactive" | "events_api",
     "payload": {...the same body Slack would POST over HTTP...},
     "accepts_response_payload": true}

which it must acknowledge within 3 s on the same socket with
``{"envelope_id": "...", "payload": {...}}`` (``payload`` only where
``accepts_response_payload`` is true). Slack greets each connection with ``hello`` and asks
the app to reconnect with ``disconnect`` (e.g. ``refresh_requested``, every few hours).

``FakeSocketMode`` plays that side over real sockets (``websockets``' threaded server), so
the bot under test runs slack_sdk's genuine Socket Mode client unchanged. It attaches to a
``FakeSlack`` so that ``apps.connections.open`` hands out ``ws://127.0.0.1:PORT/link/?ticket=``
URLs; a ticket works once, like Slack's. Acks are checked (known envelope, acked once,
within 3 s, no payload where none is accepted) and every violation is kept in ``problems``.

Typical use::

    with FakeSlack() as slack, FakeSocketMode(slack) as socket:
        ...start the bot with SLACK_API_URL=slack.api_url and an xapp- token...
        socket.wait_connected()
        envelope = socket.slash_command("/rollout", "start realtime-features")
        assert socket.wait_ack(envelope) == {"envelope_id": envelope.envelope_id}
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackRequestSender

__all__ = ["ACK_DEADLINE", "Envelope", "FakeSocketMode", "SocketConnection"]

ACK_DEADLINE = 3.0  # seconds Slack waits for an envelope's ack
_ACK_KEYS = frozenset({"envelope_id", "payload"})


@dataclass
class Envelope:
    """One delivery sent to the app, and the ack it got (if any)."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    connection: int
    sent_at: float
    ack: dict[str, Any] | None = None
    acked_after: float | None = None  # seconds from sending to the ack

    def to_message(self) -> dict[str, Any]:
        """The JSON Slack writes on the socket for this envelope."""
        message: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api":
            # Only Events API deliveries are retried by Slack, so only they say which try.
            message.update({"retry_attempt": 0, "retry_reason": ""})
        return message


@dataclass
class SocketConnection:
    """A WebSocket the app opened, in the order it opened them (index = position)."""

    index: int
    ticket: str
    websocket: ServerConnection
    opened_at: float
    closed_at: float | None = None
    received: list[str] = field(default_factory=list)  # raw text frames from the app

    @property
    def open(self) -> bool:
        """Whether the app is still connected on this socket."""
        return self.closed_at is None


class FakeSocketMode:
    """Slack's Socket Mode side: hands out URLs, greets, delivers envelopes, checks acks."""

    def __init__(self, slack: FakeSlack, host: str = "127.0.0.1") -> None:
        """Attach to ``slack`` (whose ``apps.connections.open`` will point here); call
        :meth:`start` (or use ``with``) to listen."""
        self.slack = slack
        self._host = host
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._tickets: set[str] = set()
        self.connections: list[SocketConnection] = []
        self.envelopes: dict[str, Envelope] = {}
        self.problems: list[str] = []
        # Handshakes to refuse with HTTP 503 before accepting again (an outage at start-up).
        self.refuse_handshakes = 0
        # Payloads are built by the HTTP sender and captured instead of sent: Socket Mode
        # carries exactly the bodies Slack would POST, so both kinds of test share them.
        self._builder = SlackRequestSender(
            "http://socket-mode.invalid",
            "unused-signing-secret",
            slack.response_url,
            client=httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200))),
        )

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeSocketMode:
        """Listen on an ephemeral port and make ``apps.connections.open`` point here."""
        if self._server is not None:
            return self
        self._server = serve(
            self._serve_connection, self._host, 0, process_request=self._check_ticket
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="FakeSocketMode", daemon=True
        )
        self._thread.start()
        self.slack.socket_mode_url = self._issue_url
        return self

    def stop(self) -> None:
        """Close every connection and the listening socket (idempotent)."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if self.slack.socket_mode_url == self._issue_url:
            self.slack.socket_mode_url = None
        if server is not None:
            server.shutdown()
        if thread is not None:
            thread.join(timeout=5)
        self._builder.close()

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the WebSocket server listens on."""
        if self._server is None:
            raise RuntimeError("FakeSocketMode is not started")
        return int(self._server.socket.getsockname()[1])

    # ---------------------------------------------------------------- Slack's side

    def _issue_url(self) -> str:
        ticket = uuid.uuid4().hex
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://{self._host}:{self.port}/link/?ticket={ticket}&app_id={self.slack.app_id}"

    def _check_ticket(self, websocket: ServerConnection, request: Request) -> Response | None:
        ticket = parse_qs(urlsplit(request.path).query).get("ticket", [""])[0]
        with self._lock:
            if self.refuse_handshakes > 0:
                self.refuse_handshakes -= 1
                return _http_error(HTTPStatus.SERVICE_UNAVAILABLE, "try again later")
            if ticket not in self._tickets:
                self.problems.append(f"connected with an unknown or used ticket: {request.path}")
                return _http_error(HTTPStatus.UNAUTHORIZED, "invalid ticket")
            self._tickets.discard(ticket)  # one connection per apps.connections.open
        return None

    def _serve_connection(self, websocket: ServerConnection) -> None:
        ticket = parse_qs(urlsplit(websocket.request.path if websocket.request else "").query)
        with self._changed:
            record = SocketConnection(
                index=len(self.connections),
                ticket=ticket.get("ticket", [""])[0],
                websocket=websocket,
                opened_at=time.monotonic(),
            )
            self.connections.append(record)
            open_count = sum(1 for c in self.connections if c.open)
            self._changed.notify_all()
        hello = {
            "type": "hello",
            "num_connections": open_count,
            "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.slack.app_id},
        }
        try:
            websocket.send(json.dumps(hello))
            for message in websocket:
                self._on_app_message(record, message)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                record.closed_at = time.monotonic()
                self._changed.notify_all()

    def _on_app_message(self, connection: SocketConnection, message: str | bytes) -> None:
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        with self._changed:
            connection.received.append(text)
            problem = self._record_ack(text)
            if problem:
                self.problems.append(f"connection {connection.index}: {problem}")
            self._changed.notify_all()

    def _record_ack(self, text: str) -> str | None:
        """Match an ack to its envelope; return what Slack would object to, if anything."""
        try:
            ack = json.loads(text)
        except ValueError:
            return f"not JSON: {text[:200]!r}"
        if not isinstance(ack, dict) or not isinstance(ack.get("envelope_id"), str):
            return f"an ack must be an object with an envelope_id: {text[:200]!r}"
        envelope = self.envelopes.get(ack["envelope_id"])
        if envelope is None:
            return f"ack for an envelope never sent: {ack['envelope_id']}"
        if envelope.ack is not None:
            return f"envelope {envelope.envelope_id} acked twice"
        envelope.ack = ack
        envelope.acked_after = time.monotonic() - envelope.sent_at
        unexpected = sorted(set(ack) - _ACK_KEYS)
        problems = [f"unexpected keys {unexpected}"] if unexpected else []
        if "payload" in ack and not envelope.accepts_response_payload:
            problems.append("a payload where the envelope accepts none")
        if "payload" in ack and not isinstance(ack["payload"], dict):
            problems.append("payload is not an object")
        if envelope.acked_after > ACK_DEADLINE:
            problems.append(f"acked after {envelope.acked_after:.1f}s (limit {ACK_DEADLINE}s)")
        if problems:
            return f"ack of {envelope.type} {envelope.envelope_id}: " + "; ".join(problems)
        return None

    # ---------------------------------------------------------------- driving the app

    def wait_connected(self, count: int = 1, timeout: float = 10.0) -> SocketConnection:
        """Wait until the app has opened ``count`` connections in all; return the latest
        open one."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                live = [c for c in self.connections if c.open]
                if len(self.connections) >= count and live:
                    return live[-1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} Socket Mode connection(s) within {timeout}s, "
                        f"got {len(self.connections)} ({len(live)} open); "
                        f"problems: {self.problems}"
                    )
                self._changed.wait(remaining)

    def wait_closed(self, connection: SocketConnection, timeout: float = 10.0) -> None:
        """Wait until ``connection`` is closed (by the app or by :meth:`stop`)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while connection.open:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"connection {connection.index} still open after {timeout}s"
                    )
                self._changed.wait(remaining)

    def send(
        self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool
    ) -> Envelope:
        """Deliver one envelope over the latest open connection."""
        connection = self.wait_connected(timeout=0.5)
        envelope = Envelope(
            envelope_id=str(uuid.uuid4()),
            type=kind,
            payload=payload,
            accepts_response_payload=accepts_response_payload,
            connection=connection.index,
            sent_at=time.monotonic(),
        )
        with self._lock:
            self.envelopes[envelope.envelope_id] = envelope
        connection.websocket.send(json.dumps(envelope.to_message()))
        return envelope

    def slash_command(self, command: str, text: str = "", **fields: Any) -> Envelope:
        """Deliver a slash command (``fields`` as for ``SlackRequestSender.command``)."""
        self._builder.command(command, text, **fields)
        payload = self._builder.last.payload
        return self.send("slash_commands", dict(payload), accepts_response_payload=True)

    def block_action(self, action_id: str, value: str | None = None, **fields: Any) -> Envelope:
        """Deliver a button press (``fields`` as for ``SlackRequestSender.block_action``)."""
        self._builder.block_action(action_id, value, **fields)
        payload = dict(self._builder.last.payload)
        return self.send("interactive", payload, accepts_response_payload=False)

    def event(self, event: dict[str, Any]) -> Envelope:
        """Deliver an Events API event callback wrapping ``event``."""
        payload = {
            "token": "verification-token-unused",
            "team_id": self.slack.team_id,
            "api_app_id": self.slack.app_id,
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
        }
        return self.send("events_api", payload, accepts_response_payload=False)

    def request_reconnect(self, reason: str = "refresh_requested") -> SocketConnection:
        """Ask the app to move to a new connection, as Slack does every few hours."""
        connection = self.wait_connected(timeout=0.5)
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        connection.websocket.send(json.dumps(message))
        return connection

    def wait_ack(self, envelope: Envelope, timeout: float = ACK_DEADLINE) -> dict[str, Any]:
        """Wait for the app's ack of ``envelope`` (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while envelope.ack is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{envelope.type} envelope {envelope.envelope_id} not acked within "
                        f"{timeout}s; problems: {self.problems}"
                    )
                self._changed.wait(remaining)
            return dict(envelope.ack)

    def assert_no_problems(self) -> None:
        """Fail if the app did anything Slack's Socket Mode would reject."""
        with self._lock:
            problems = list(self.problems)
        if problems:
            raise AssertionError("Socket Mode problems:\n  " + "\n  ".join(problems))


def _http_error(status: HTTPStatus, text: str) -> Response:
    body = text.encode("utf-8")
    headers = Headers([("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return Response(status.value, status.phrase, headers, body)
