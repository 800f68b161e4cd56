"""An in-process fake of the Slack Web API, served over real HTTP.

``FakeSlack`` runs a ``ThreadingHTTPServer`` on 127.0.0.1 so the bot under test talks
to it through the genuine ``slack_sdk.WebClient`` / Bolt stack (urllib, retries, JSON
and form encodings) instead of a mocked client object. That way encoding mistakes,
invalid Block Kit, rate-limit handling and "work done after ack() in another thread"
are exercised exactly as in production.

Typical use::

    with FakeSlack() as fake:
        client = WebClient(token="xoxb-test", base_url=fake.api_url)
        client.chat_postMessage(channel="C1", text="hi")
        assert fake.calls_to("chat.postMessage")[0].params["text"] == "hi"

To wire it as a pytest fixture from conftest.py::

    from tests.fakes.slack_api import fake_slack_fixture
    fake_slack = pytest.fixture(fake_slack_fixture)
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

__all__ = [
    "MAX_MESSAGE_BLOCKS",
    "MAX_TEXT_LENGTH",
    "MAX_VIEW_BLOCKS",
    "Call",
    "FakeSlack",
    "Handler",
    "UploadedFile",
    "fake_slack_fixture",
    "validate_blocks",
    "validate_view",
]

# Limits documented by Slack (Block Kit reference / chat.postMessage docs).
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_LENGTH = 40_000
MAX_CHANNEL_NAME = 80

# Parameters that slack_sdk (and Slack itself) accept as JSON *strings* inside form
# bodies; we decode them so tests can assert on structure, not on serialised text.
_JSON_STRING_PARAMS = frozenset(
    {"blocks", "view", "attachments", "files", "metadata", "unfurls", "user_auth_blocks"}
)

# Methods whose payload carries message text/blocks (for msg_too_long & block checks).
_MESSAGE_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.update",
        "chat.postEphemeral",
        "chat.scheduleMessage",
        "response_url",
    }
)
_VIEW_METHODS = frozenset({"views.open", "views.update", "views.push", "views.publish"})
# Methods that take the app-level token (xapp-) instead of the bot token (xoxb-).
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

# Pseudo-methods for requests that do not go to /api/<method>.
RESPONSE_URL = "response_url"
FILE_UPLOAD = "file_upload"

_CHANNEL_NAME_RE = re.compile(r"^[a-z0-9_\-\u00C0-\uFFFF]+$")

_log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]
"""A custom method implementation: receives decoded params, returns the JSON answer."""


class _SlackError(Exception):
    """Raised inside method handlers to answer ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, *, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


@dataclass
class Call:
    """One request received by the fake (successful or not).

    ``params`` merges query string and body; JSON strings such as ``blocks``/``view``/
    ``attachments`` are already decoded. Header names are lower-cased.
    """

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    path: str = ""
    raw_body: bytes = b""
    failed_with: str | None = None
    status: int = 200
    response: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when the fake answered ``ok: true``."""
        return self.failed_with is None


@dataclass
class UploadedFile:
    """State of a file going through the v2 (getUploadURLExternal) upload flow."""

    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    completed: bool = False
    channel_id: str | None = None


@dataclass
class _Outage:
    """Slack down for `methods` while `now()` (rollbot's clock) is before `until`: every
    `every`-th answer is 429 with Retry-After, the others 500."""

    now: Callable[[], datetime]
    until: datetime
    methods: frozenset[str]
    retry_after: int
    every: int
    answered: int = 0


@dataclass
class _ScriptedFailure:
    error: str
    status: int
    retry_after: int | None


# --------------------------------------------------------------------------------------
# Block Kit validation (usable on its own, e.g. to unit-test message builders)
# --------------------------------------------------------------------------------------


def _compare_rendered(raw: Any, rendered: Any, pointer: str) -> list[str]:
    """Report what slack_sdk silently dropped or coerced while parsing a block.

    slack_sdk ignores unknown keys and unknown element types (it logs and emits None)
    where real Slack rejects the whole payload, so diffing input against ``to_dict()``
    is how we recover Slack's stricter behaviour.
    """
    errors: list[str] = []
    if isinstance(raw, dict) and isinstance(rendered, dict):
        for key, value in raw.items():
            if value is None:
                continue
            if key not in rendered:
                if isinstance(value, str | list | dict) and len(value) == 0:
                    # slack_sdk drops every empty value, so "missing" here is not
                    # "unknown"; only empty text objects are a certain Slack error.
                    if key == "text" and raw.get("type") in ("plain_text", "mrkdwn"):
                        errors.append(
                            f"must be more than 0 characters [json-pointer:{pointer}/text]"
                        )
                    continue
                errors.append(f"unknown or unsupported field {key!r} [json-pointer:{pointer}]")
            else:
                errors.extend(_compare_rendered(value, rendered[key], f"{pointer}/{key}"))
    elif isinstance(raw, list) and isinstance(rendered, list):
        for index, (raw_item, rendered_item) in enumerate(zip(raw, rendered, strict=False)):
            item_pointer = f"{pointer}/{index}"
            if rendered_item is None and raw_item is not None:
                kind = raw_item.get("type") if isinstance(raw_item, dict) else raw_item
                errors.append(f"unsupported element {kind!r} [json-pointer:{item_pointer}]")
            else:
                errors.extend(_compare_rendered(raw_item, rendered_item, item_pointer))
    elif isinstance(raw, str) and isinstance(rendered, dict):
        # slack_sdk upgrades "text": "foo" to a text object; Slack requires the object.
        errors.append(f"expected a text object, got a string [json-pointer:{pointer}]")
    return errors


def validate_blocks(
    blocks: Any, *, max_blocks: int = MAX_MESSAGE_BLOCKS, pointer: str = "/blocks"
) -> list[str]:
    """Validate a Block Kit ``blocks`` array roughly as Slack does.

    Each block is parsed with ``slack_sdk.models.blocks.Block.parse`` and rendered with
    ``to_dict()`` (which enforces slack_sdk's length validators); on top of that we flag
    unknown fields/elements, duplicate ``block_id`` values, non-plain_text headers and
    more than ``max_blocks`` blocks. Returns human-readable errors, empty when valid.
    """
    if not isinstance(blocks, list):
        return [f"blocks must be an array [json-pointer:{pointer}]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(
            f"no more than {max_blocks} items allowed, got {len(blocks)} [json-pointer:{pointer}]"
        )
    seen_block_ids: set[str] = set()
    for index, raw in enumerate(blocks):
        block_pointer = f"{pointer}/{index}"
        if not isinstance(raw, dict):
            errors.append(f"block must be an object [json-pointer:{block_pointer}]")
            continue
        try:
            # deepcopy: slack_sdk constructors may keep/mutate the nested dicts we pass.
            parsed = Block.parse(copy.deepcopy(raw))
        except Exception as exc:  # slack_sdk raises assorted types for malformed input
            errors.append(f"cannot parse block: {exc} [json-pointer:{block_pointer}]")
            continue
        if parsed is None:
            errors.append(
                f"unsupported block type {raw.get('type')!r} [json-pointer:{block_pointer}]"
            )
            continue
        try:
            rendered = parsed.to_dict()
        except Exception as exc:  # SlackObjectFormationError carries the validator text
            errors.append(f"{exc} [json-pointer:{block_pointer}]")
            continue
        errors.extend(_compare_rendered(raw, rendered, block_pointer))
        block_id = raw.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen_block_ids:
                errors.append(f"duplicate block_id {block_id!r} [json-pointer:{block_pointer}]")
            seen_block_ids.add(block_id)
        if raw.get("type") == "header":
            text = raw.get("text")
            if not isinstance(text, dict) or text.get("type") != "plain_text":
                errors.append(
                    f"header text must be a plain_text object [json-pointer:{block_pointer}/text]"
                )
    return errors


def validate_view(view: Any, *, pointer: str = "/view") -> list[str]:
    """Validate a modal / home ``view`` payload (title, submit, blocks ...).

    Uses ``slack_sdk.models.views.View`` validators plus :func:`validate_blocks` with the
    100-block limit, and Slack's rule that modals containing input blocks need ``submit``.
    """
    if not isinstance(view, dict):
        return [f"view must be an object [json-pointer:{pointer}]"]
    errors: list[str] = []
    view_type = view.get("type")
    if view_type not in ("modal", "home"):
        errors.append(f"view type must be 'modal' or 'home' [json-pointer:{pointer}/type]")
    if "blocks" not in view:
        errors.append(f"missing required field: blocks [json-pointer:{pointer}]")
    else:
        errors.extend(
            validate_blocks(view["blocks"], max_blocks=MAX_VIEW_BLOCKS, pointer=f"{pointer}/blocks")
        )
    if view_type == "modal":
        title = view.get("title")
        if not isinstance(title, dict) or title.get("type") != "plain_text":
            errors.append(f"missing or invalid title [json-pointer:{pointer}/title]")
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and not view.get("submit"):
            errors.append(
                f"submit is required when the view contains input blocks [json-pointer:{pointer}]"
            )
    if not errors:
        try:
            View(**copy.deepcopy(view)).to_dict()
        except Exception as exc:  # title/submit/close/private_metadata length validators
            errors.append(f"{exc} [json-pointer:{pointer}]")
    return errors


# --------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Reusing the address avoids "address in use" flakes when tests restart quickly.
    allow_reuse_address = True
    fake: FakeSlack


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    # HTTP/1.0 closes each connection, which is what urllib expects anyway and
    # keeps shutdown() from waiting on idle keep-alive sockets.
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    def do_POST(self) -> None:
        self.server.fake._handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        # Default implementation writes every request to stderr; too noisy for pytest.
        _log.debug("FakeSlack: " + format, *args)


def _decode_json_strings(params: dict[str, Any]) -> dict[str, Any]:
    decoded = dict(params)
    for key in _JSON_STRING_PARAMS & decoded.keys():
        value = decoded[key]
        if isinstance(value, str):
            # Undecodable values stay strings; validation then reports them as malformed.
            with contextlib.suppress(ValueError):
                decoded[key] = json.loads(value)
    return decoded


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        parsed = json.loads(body.decode("utf-8"))
        return parsed if isinstance(parsed, dict) else {"_json": parsed}
    if content_type.startswith("application/x-www-form-urlencoded"):
        return _flatten_qs(body.decode("utf-8"))
    return {}


def _flatten_qs(query: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, values in parse_qs(query, keep_blank_values=True).items():
        result[key] = values[0] if len(values) == 1 else values
    return result


def _split_ids(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return []


# --------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------


class FakeSlack:
    """A fake Slack Web API (plus response_url and file-upload endpoints) over HTTP.

    All state is guarded by one lock because ThreadingHTTPServer answers each request
    on its own thread while the test thread reads ``calls``.
    """

    team_id = "T0001"
    team_name = "Rollbot Test"
    team_domain = "rollbot-test"
    bot_user_id = "U0BOT"
    bot_id = "B0BOT"
    app_id = "A0ROLLBOT"

    def __init__(self, host: str = "127.0.0.1") -> None:
        """Create the fake; call :meth:`start` (or use ``with``) to serve."""
        self._host = host
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()
        self._arrived = threading.Condition(self._lock)
        self._ts_counter = itertools.count(1)
        self._id_counter = itertools.count(1)

        self.calls: list[Call] = []
        self.invalid_payloads: list[str] = []
        self.usergroups: dict[str, list[str]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.uploaded_files: dict[str, UploadedFile] = {}
        self.channels: dict[str, dict[str, Any]] = {}  # id -> channel object
        self.channel_members: dict[str, set[str]] = {}
        self.pins: set[tuple[str, str]] = set()
        self.reactions: set[tuple[str, str, str]] = set()  # (channel, ts, name)
        self.views: dict[str, dict[str, Any]] = {}
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._failures: dict[str, deque[_ScriptedFailure]] = {}
        self._outage: _Outage | None = None
        # After a 429, when each method may be called again (monotonic), and the calls
        # that came sooner (a client that ignores Retry-After).
        self._limited_until: dict[str, float] = {}
        self.retry_after_ignored: list[str] = []
        self._custom: dict[str, Handler] = {}
        # Set by tests.fakes.socket_mode.FakeSocketMode: issues a one-time WebSocket URL.
        self.socket_mode_url: Callable[[], str] | None = None

        for user_id, name, real_name in (
            ("U_ALICE", "alice", "Alice Anders"),
            ("U_BOB", "bob", "Bob Berg"),
            ("U_CAROL", "carol", "Carol Chen"),
            ("U_DAVE", "dave", "Dave Diaz"),
        ):
            self.add_user(user_id, name=name, real_name=real_name)

        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "api.test": lambda p: {"args": p},
            "apps.connections.open": self._apps_connections_open,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.scheduleMessage": self._chat_schedule_message,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "conversations.create": self._conversations_create,
            "conversations.invite": self._conversations_invite,
            "conversations.join": self._conversations_join,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.setTopic": lambda p: {"channel": self._channel_obj(p)},
            "conversations.setPurpose": lambda p: {"channel": self._channel_obj(p)},
            "conversations.archive": lambda p: {},
            "pins.add": self._pins_add,
            "pins.remove": self._pins_remove,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.users.list": self._usergroups_users_list,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            # Retired by Slack in 2025; bots must use the v2 flow (files_upload_v2).
            "files.upload": self._method_deprecated,
        }

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeSlack:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = _Server((self._host, 0), _RequestHandler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="FakeSlack",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``; the trailing slash is required."""
        return f"{self.base_url}/api/"

    def response_url(self, token: str | None = None) -> str:
        """A response_url on this server; POSTs to it are recorded as ``"response_url"``."""
        return f"{self.base_url}/respond/{token or uuid.uuid4().hex[:16]}"

    # ---------------------------------------------------------------- configuration

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        tz: str = "Europe/Berlin",
    ) -> dict[str, Any]:
        """Register a user for users.info / users.lookupByEmail and return its object."""
        if name is None:
            _, sep, rest = user_id.partition("_")
            name = (rest if sep else user_id[1:]).lower() or user_id.lower()
        real_name = real_name or name.title()
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": tz,
            "is_bot": is_bot,
            "is_admin": False,
            "profile": {
                "real_name": real_name,
                "display_name": name,
                "email": email or f"{name}@example.com",
                "image_48": f"https://avatars.example.com/{user_id}_48.png",
                "team": self.team_id,
            },
        }
        with self._lock:
            self.users[user_id] = user
        return user

    def fail_next(
        self,
        method: str,
        error: str | None = None,
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail.

        ``status=429`` answers with a ``Retry-After`` header (what slack_sdk's
        ``RateLimitErrorRetryHandler`` honours); ``status=200`` answers ``ok: false``
        with ``error`` (e.g. ``"channel_not_found"``); 5xx simulates an outage. When
        ``error`` is omitted it is derived from the status. ``method`` may also be
        ``"response_url"`` or ``"file_upload"``.
        """
        if error is None:
            error = (
                "ratelimited"
                if status == 429
                else "internal_error"
                if status >= 500
                else "fatal_error"
            )
        failure = _ScriptedFailure(
            error=error, status=status, retry_after=retry_after if status == 429 else None
        )
        with self._lock:
            queue = self._failures.setdefault(method, deque())
            queue.extend(failure for _ in range(times))

    def outage(
        self,
        now: Callable[[], datetime],
        until: datetime,
        methods: tuple[str, ...] = ("chat.postMessage", "chat.update"),
        retry_after: int = 1,
        every: int = 3,
    ) -> None:
        """Slack is down for `methods` until `until` on the clock `now` (rollbot's, so a
        test moves it instead of waiting): every `every`-th call gets 429 with
        `Retry-After: retry_after` seconds, the others 500. A call that comes back sooner
        than a 429's Retry-After is noted in `retry_after_ignored`."""
        with self._lock:
            self._outage = _Outage(now, until, frozenset(methods), retry_after, every)

    def on(self, method: str, handler: Handler) -> None:
        """Override or add a Web API method; ``handler`` returns the answer's fields.

        The returned dict is sent as-is, so include ``"ok"`` yourself if you want
        ``ok: false``; otherwise ``ok: true`` is added.
        """
        with self._lock:
            self._custom[method] = handler

    def post_as_user(
        self,
        channel: str,
        user_id: str,
        text: str,
        ts: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Put a message written by a person into ``channel`` (as if typed in Slack);
        return its ts (``ts`` picks it, e.g. to match a test's clock), for instance for a
        ``reaction_added`` event on it."""
        with self._lock:
            ts = ts or self._next_ts()
            self._messages[(channel, ts)] = {
                "type": "message",
                "user": user_id,
                "team": self.team_id,
                "ts": ts,
                "text": text,
            }
            if thread_ts:
                self._messages[(channel, ts)]["thread_ts"] = thread_ts
        return ts

    # ---------------------------------------------------------------- inspection

    def calls_to(self, method: str) -> list[Call]:
        """All recorded calls to ``method`` (including failed ones), oldest first."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def clear(self) -> None:
        """Forget recorded calls and invalid payloads (state such as channels stays)."""
        with self._lock:
            self.calls.clear()
            self.invalid_payloads.clear()

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until ``count`` calls to ``method`` arrived; return them.

        Bolt runs listeners after ``ack()`` on worker threads, so the HTTP response to a
        slash command comes back before the bot's follow-up API calls; tests must wait.
        Raises AssertionError listing what did arrive when the timeout expires.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                matching = [c for c in self.calls if c.method == method]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [c.method + ("" if c.ok else f" ({c.failed_with})") for c in self.calls]
                    raise AssertionError(
                        f"expected {count} call(s) to {method} within {timeout}s, "
                        f"got {len(matching)}; calls received: {seen}"
                    )
                self._arrived.wait(remaining)

    def assert_no_invalid_payloads(self) -> None:
        """Fail if any request carried invalid Block Kit / views / over-long text."""
        with self._lock:
            problems = list(self.invalid_payloads)
        if problems:
            raise AssertionError(
                "Slack would have rejected these payloads:\n  " + "\n  ".join(problems)
            )

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """Current state of messages in ``channel`` (after updates/deletes), by ts."""
        with self._lock:
            found = [copy.deepcopy(m) for (ch, _), m in self._messages.items() if ch == channel]
        return sorted(found, key=lambda m: str(m["ts"]))

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """Current state of one message, or None if unknown or deleted."""
        with self._lock:
            found = self._messages.get((channel, ts))
            return copy.deepcopy(found) if found is not None else None

    # ---------------------------------------------------------------- request dispatch

    def _handle(self, request: _RequestHandler) -> None:
        split = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw_body = request.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in request.headers.items()}
        content_type = headers.get("content-type", "")

        if split.path.startswith("/api/"):
            method = split.path[len("/api/") :]
        elif split.path.startswith("/respond/"):
            method = RESPONSE_URL
        elif split.path.startswith("/upload/"):
            method = FILE_UPLOAD
        else:
            self._send(request, 404, {"ok": False, "error": "not_found"})
            return

        params: dict[str, Any] = _flatten_qs(split.query)
        if method != FILE_UPLOAD:
            try:
                params.update(_parse_body(content_type, raw_body))
            except ValueError:
                params["_unparseable_body"] = raw_body.decode("utf-8", "replace")
        params = _decode_json_strings(params)
        call = Call(
            method=method,
            params=params,
            headers=headers,
            at=time.time(),
            path=split.path,
            raw_body=raw_body,
        )

        status, payload, extra_headers = self._answer(call)
        call.status = status
        if not payload.get("ok", False):
            call.failed_with = str(payload.get("error", "unknown"))
        call.response = payload
        with self._arrived:
            self.calls.append(call)
            self._arrived.notify_all()
        if method == FILE_UPLOAD and status == 200:
            # The real upload endpoint answers plain text, not JSON.
            self._send_text(request, 200, f"OK - {len(raw_body)}")
            return
        self._send(request, status, payload, extra_headers)

    def _answer(self, call: Call) -> tuple[int, dict[str, Any], dict[str, str]]:
        method = call.method
        with self._lock:
            # A little slack for the client's own clock: Slack's limit is in whole seconds.
            if time.monotonic() < self._limited_until.get(method, 0.0) - 0.05:
                self.retry_after_ignored.append(method)
            queue = self._failures.get(method)
            scripted = queue.popleft() if queue else None
            outage = self._outage
            down = outage is not None and method in outage.methods and outage.now() < outage.until
            if scripted is None and outage is not None and down:
                outage.answered += 1
                limited = outage.answered % outage.every == 1 or outage.every == 1
                scripted = _ScriptedFailure(
                    error="ratelimited" if limited else "internal_error",
                    status=429 if limited else 500,
                    retry_after=outage.retry_after if limited else None,
                )
            if scripted is not None and scripted.retry_after is not None:
                self._limited_until[method] = time.monotonic() + scripted.retry_after
        if scripted is not None:
            headers = {}
            if scripted.retry_after is not None:
                headers["Retry-After"] = str(scripted.retry_after)
            return scripted.status, {"ok": False, "error": scripted.error}, headers

        if method not in (RESPONSE_URL, FILE_UPLOAD):
            auth = call.headers.get("authorization", "")
            token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
            token = token or str(call.params.get("token", ""))
            expected = "xapp-" if method in _APP_TOKEN_METHODS else "xoxb-"
            if not token.startswith(expected):
                # A bot token where an app token belongs (or the reverse) is a known kind.
                known = token.startswith(("xoxb-", "xapp-"))
                error = "not_allowed_token_type" if known else "invalid_auth"
                return 200, {"ok": False, "error": error}, {}

        problems = self._validate_payload(call)
        if problems:
            error = "invalid_arguments" if method in _VIEW_METHODS else problems[0][0]
            messages = [f"[ERROR] {msg}" for _, msg in problems]
            with self._lock:
                self.invalid_payloads.extend(f"{method}: {msg}" for _, msg in problems)
            status = 400 if method == RESPONSE_URL else 200
            payload: dict[str, Any] = {
                "ok": False,
                "error": error,
                "response_metadata": {"messages": messages},
            }
            if error == "invalid_blocks":
                payload["errors"] = [msg for _, msg in problems]
            return status, payload, {}

        if method == FILE_UPLOAD:
            try:
                with self._lock:
                    self._record_upload(call)
            except _SlackError as err:
                return err.status, {"ok": False, "error": err.error}, {}
            return 200, {"ok": True}, {}
        with self._lock:
            handler = self._custom.get(method) or self._methods.get(method)
            if method == RESPONSE_URL:
                handler = self._custom.get(method, self._response_url)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        try:
            with self._lock:
                result = handler(call.params)
        except _SlackError as err:
            return err.status, {"ok": False, "error": err.error, **err.extra}, {}
        except Exception as exc:  # a bug in the fake must surface, not hang the bot
            _log.exception("FakeSlack handler for %s crashed", method)
            return 500, {"ok": False, "error": "fake_internal_error", "detail": repr(exc)}, {}
        return 200, {"ok": True, **result}, {}

    def _validate_payload(self, call: Call) -> list[tuple[str, str]]:
        """Return (error_code, message) pairs for payloads Slack would reject."""
        params = call.params
        problems: list[tuple[str, str]] = []
        if call.method in _MESSAGE_METHODS:
            text = params.get("text")
            if isinstance(text, str) and len(text) > MAX_TEXT_LENGTH:
                problems.append(
                    ("msg_too_long", f"text is {len(text)} chars, limit {MAX_TEXT_LENGTH}")
                )
        if "blocks" in params and params["blocks"] not in (None, ""):
            blocks = params["blocks"]
            if not isinstance(blocks, list):
                problems.append(("invalid_blocks_format", "blocks must be a JSON array"))
            else:
                problems.extend(("invalid_blocks", m) for m in validate_blocks(blocks))
        attachments = params.get("attachments")
        if isinstance(attachments, list):
            for index, attachment in enumerate(attachments):
                if isinstance(attachment, dict) and "blocks" in attachment:
                    problems.extend(
                        ("invalid_blocks", m)
                        for m in validate_blocks(
                            attachment["blocks"], pointer=f"/attachments/{index}/blocks"
                        )
                    )
        if call.method in _VIEW_METHODS or "view" in params:
            if "view" not in params:
                problems.append(("invalid_arguments", "missing required field: view"))
            else:
                problems.extend(("invalid_arguments", m) for m in validate_view(params["view"]))
        return problems

    @staticmethod
    def _send(
        request: _RequestHandler,
        status: int,
        payload: dict[str, Any],
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        body = json.dumps(payload).encode("utf-8")
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        for key, value in (extra_headers or {}).items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(body)

    @staticmethod
    def _send_text(request: _RequestHandler, status: int, text: str) -> None:
        body = text.encode("utf-8")
        request.send_response(status)
        request.send_header("Content-Type", "text/plain; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    # ---------------------------------------------------------------- id helpers

    def _next_ts(self) -> str:
        # Increasing, unique, and shaped like real Slack timestamps.
        micros = 1_700_000_000_000_000 + next(self._ts_counter) * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._id_counter):08d}"

    def _resolve_channel(self, channel: Any) -> str:
        if not isinstance(channel, str) or not channel:
            raise _SlackError("channel_not_found")
        if channel.startswith("#"):
            for channel_id, obj in self.channels.items():
                if obj["name"] == channel[1:]:
                    return channel_id
            raise _SlackError("channel_not_found")
        if channel[0] in "UW":
            # Posting to a user ID lands in the bot's DM with them.
            return "D" + channel[1:]
        return channel

    def _channel_obj(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(params.get("channel"))
        return self.channels.get(channel_id) or {
            "id": channel_id,
            "name": channel_id.lower(),
            "is_channel": channel_id.startswith("C"),
            "is_im": channel_id.startswith("D"),
            "is_member": True,
        }

    def _bot_message(self, params: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
            "text": params.get("text", ""),
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if params.get(key) not in (None, ""):
                message[key] = params[key]
        return message

    @staticmethod
    def _require(params: dict[str, Any], *names: str) -> None:
        missing = [n for n in names if params.get(n) in (None, "")]
        if missing:
            raise _SlackError(
                "invalid_arguments",
                response_metadata={
                    "messages": [f"[ERROR] missing required field: {n}" for n in missing]
                },
            )

    # ---------------------------------------------------------------- Web API methods

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": "rollbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            raise _SlackError("no_text")
        ts = self._next_ts()
        message = self._bot_message(params, ts)
        self._messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": copy.deepcopy(message)}

    def _chat_schedule_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        self._require(params, "post_at")
        return {
            "channel": channel,
            "scheduled_message_id": self._next_id("Q"),
            "post_at": int(params["post_at"]),
            "message": self._bot_message(params, self._next_ts()),
        }

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        self._require(params, "ts")
        ts = str(params["ts"])
        # Lenient on unknown ts: tests often update messages "posted" by the request
        # sender (block_actions payloads), which this fake never saw.
        message = self._messages.get((channel, ts)) or self._bot_message({}, ts)
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                message[key] = params[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self._messages[(channel, ts)] = message
        return {
            "channel": channel,
            "ts": ts,
            "text": message.get("text", ""),
            "message": copy.deepcopy(message),
        }

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        self._require(params, "ts")
        self._messages.pop((channel, str(params["ts"])), None)
        return {"channel": channel, "ts": params["ts"]}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        self._resolve_channel(params.get("channel"))
        if not params.get("user"):
            raise _SlackError("user_not_in_channel")
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            raise _SlackError("no_text")
        return {"message_ts": self._next_ts()}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        self._require(params, "message_ts")
        ts = str(params["message_ts"]).replace(".", "")
        return {
            "channel": channel,
            "permalink": f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts}",
        }

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            return {"channel": {"id": params["channel"]}, "no_op": True, "already_open": True}
        users = _split_ids(params.get("users"))
        if not users:
            raise _SlackError("users_list_not_supplied")
        channel_id = "D" + users[0][1:] if len(users) == 1 else "G" + "_".join(sorted(users))
        already_open = channel_id in self.channel_members
        self.channel_members.setdefault(channel_id, {self.bot_user_id, *users})
        result: dict[str, Any] = {"channel": {"id": channel_id}}
        if already_open:
            result.update({"no_op": True, "already_open": True})
        return result

    def _conversations_create(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        if not isinstance(name, str) or not name:
            raise _SlackError("invalid_name_required")
        if len(name) > MAX_CHANNEL_NAME:
            raise _SlackError("invalid_name_maxlength")
        if not _CHANNEL_NAME_RE.match(name):
            # Slack only allows lowercase letters, numbers, hyphens and underscores.
            raise _SlackError("invalid_name_specials")
        if any(obj["name"] == name for obj in self.channels.values()):
            raise _SlackError("name_taken")
        is_private = str(params.get("is_private", "false")).lower() == "true"
        channel_id = self._next_id("G" if is_private else "C")
        channel = {
            "id": channel_id,
            "name": name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_private": is_private,
            "is_archived": False,
            "is_member": True,
            "created": int(time.time()),
            "creator": self.bot_user_id,
            "name_normalized": name,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        self.channels[channel_id] = channel
        self.channel_members[channel_id] = {self.bot_user_id}
        return {"channel": copy.deepcopy(channel)}

    def _conversations_invite(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_obj(params)
        users = _split_ids(params.get("users"))
        if not users:
            raise _SlackError("no_user")
        if self.bot_user_id in users:
            raise _SlackError("cant_invite_self")
        members = self.channel_members.setdefault(channel["id"], {self.bot_user_id})
        if all(u in members for u in users):
            # Slack reports this as an error; bots re-inviting people must handle it.
            raise _SlackError(
                "already_in_channel",
                errors=[{"user": u, "ok": False, "error": "already_in_channel"} for u in users],
            )
        members.update(users)
        return {"channel": copy.deepcopy(channel)}

    def _conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_obj(params)
        members = self.channel_members.setdefault(channel["id"], set())
        result: dict[str, Any] = {"channel": copy.deepcopy(channel)}
        if self.bot_user_id in members:
            result["warning"] = "already_in_channel"
        members.add(self.bot_user_id)
        return result

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"channel": copy.deepcopy(self._channel_obj(params))}

    def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_obj(params)
        members = sorted(self.channel_members.get(channel["id"], set()))
        return {"members": members, "response_metadata": {"next_cursor": ""}}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        latest = params.get("latest")
        inclusive = str(params.get("inclusive", "false")).lower() in ("true", "1")
        limit = int(params.get("limit") or 100)
        found = []
        for (ch, ts), message in self._messages.items():
            if ch != channel or ("thread_ts" in message and message["thread_ts"] != ts):
                continue  # thread replies are not in the channel's history
            after = latest is not None and float(ts) > float(latest)
            if after or (not inclusive and ts == str(latest)):
                continue
            found.append(copy.deepcopy(message))
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        return {
            "messages": found[:limit],
            "has_more": len(found) > limit,
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        self._require(params, "ts")
        # Like Slack: `ts` may be the parent or any reply; the answer is the whole thread.
        asked = self._messages.get((channel, str(params["ts"])))
        if asked is None:
            raise _SlackError("thread_not_found")
        parent = str(asked.get("thread_ts") or asked["ts"])
        thread = [
            copy.deepcopy(m)
            for (ch, ts), m in self._messages.items()
            if ch == channel and (ts == parent or m.get("thread_ts") == parent)
        ]
        thread.sort(key=lambda m: float(m["ts"]))
        return {"messages": thread, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _pins_add(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        self._require(params, "timestamp")
        key = (channel, str(params["timestamp"]))
        if key in self.pins:
            raise _SlackError("already_pinned")
        self.pins.add(key)
        return {}

    def _pins_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        key = (channel, str(params.get("timestamp")))
        if key not in self.pins:
            raise _SlackError("no_pin")
        self.pins.discard(key)
        return {}

    def _reaction_key(self, params: dict[str, Any]) -> tuple[str, str, str]:
        channel = self._resolve_channel(params.get("channel"))
        self._require(params, "timestamp", "name")
        name = str(params["name"])
        if ":" in name:
            # Slack wants "thumbsup", not ":thumbsup:".
            raise _SlackError("invalid_name")
        return channel, str(params["timestamp"]), name

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        key = self._reaction_key(params)
        if key in self.reactions:
            raise _SlackError("already_reacted")
        self.reactions.add(key)
        return {}

    def _reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        key = self._reaction_key(params)
        if key not in self.reactions:
            raise _SlackError("no_reaction")
        self.reactions.discard(key)
        return {}

    def _stored_view(self, view: dict[str, Any], view_id: str) -> dict[str, Any]:
        stored = copy.deepcopy(view)
        stored.update(
            {
                "id": view_id,
                "team_id": self.team_id,
                "app_id": self.app_id,
                "bot_id": self.bot_id,
                "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
                "state": {"values": {}},
                "private_metadata": view.get("private_metadata", ""),
                "callback_id": view.get("callback_id", ""),
                "external_id": view.get("external_id", ""),
            }
        )
        self.views[view_id] = stored
        return copy.deepcopy(stored)

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id") and not params.get("interactivity_pointer"):
            raise _SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
            )
        return {"view": self._stored_view(params["view"], self._next_id("V"))}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        external_id = params.get("external_id")
        if not view_id and external_id:
            view_id = next(
                (v for v, obj in self.views.items() if obj.get("external_id") == external_id),
                None,
            )
            if view_id is None:
                raise _SlackError("not_found")
        if not view_id:
            raise _SlackError("invalid_arguments")
        # Unknown view ids are accepted: view_submission payloads come from the sender.
        return {"view": self._stored_view(params["view"], str(view_id))}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require(params, "user_id")
        return {"view": self._stored_view(params["view"], self._next_id("V"))}

    def _user(self, user_id: str) -> dict[str, Any]:
        user = self.users.get(user_id)
        if user is None:
            if not re.match(r"^[UW][A-Z0-9_]+$", user_id):
                raise _SlackError("user_not_found")
            # Any plausible user id resolves, so tests need not register every user.
            user = self.add_user(user_id)
        return copy.deepcopy(user)

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": self._user(str(params.get("user", "")))}

    def _users_lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        email = str(params.get("email", "")).lower()
        for user in self.users.values():
            if str(user["profile"].get("email", "")).lower() == email:
                return {"user": copy.deepcopy(user)}
        raise _SlackError("users_not_found")

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = str(params.get("usergroup", ""))
        if group not in self.usergroups:
            raise _SlackError("no_such_subteam")
        return {"users": list(self.usergroups[group])}

    def _files_get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require(params, "filename", "length")
        file_id = self._next_id("F")
        self.uploaded_files[file_id] = UploadedFile(
            id=file_id, filename=str(params["filename"]), length=int(params["length"])
        )
        return {"upload_url": f"{self.base_url}/upload/v1/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if not isinstance(files, list) or not files:
            raise _SlackError("invalid_arguments")
        completed = []
        for item in files:
            uploaded = self.uploaded_files.get(str(item.get("id")))
            if uploaded is None or uploaded.content is None:
                raise _SlackError("file_not_found")
            uploaded.completed = True
            uploaded.title = item.get("title") or uploaded.filename
            uploaded.channel_id = params.get("channel_id") or None
            completed.append(
                {
                    "id": uploaded.id,
                    "name": uploaded.filename,
                    "title": uploaded.title,
                    "size": len(uploaded.content),
                    "permalink": (
                        f"https://{self.team_domain}.slack.com/files/"
                        f"{self.bot_user_id}/{uploaded.id}/{uploaded.filename}"
                    ),
                }
            )
        return {"files": completed}

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        # Without a FakeSocketMode attached, the app has Socket Mode turned off.
        if self.socket_mode_url is None:
            raise _SlackError("socket_mode_not_enabled")
        return {"url": self.socket_mode_url()}

    def _method_deprecated(self, params: dict[str, Any]) -> dict[str, Any]:
        raise _SlackError("method_deprecated")

    def _response_url(self, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    # The upload endpoint needs the raw body, which params do not carry.
    def _record_upload(self, call: Call) -> None:
        file_id = call.path.rsplit("/", 1)[-1]
        uploaded = self.uploaded_files.get(file_id)
        if uploaded is None:
            raise _SlackError("file_not_found", status=404)
        uploaded.content = call.raw_body
        call.params.update({"file_id": file_id, "filename": uploaded.filename})


def fake_slack_fixture() -> Iterator[FakeSlack]:
    """Generator usable as a pytest fixture body: a started FakeSlack, stopped after.

    Wire it with ``fake_slack = pytest.fixture(fake_slack_fixture)`` in conftest.py.
    Teardown asserts no invalid payloads were sent; a test that sends bad blocks on
    purpose should ``fake.invalid_payloads.clear()`` once it has checked them.
    """
    fake = FakeSlack().start()
    try:
        yield fake
        fake.assert_no_invalid_payloads()
    finally:
        fake.stop()
