"""The live dashboard: `GET /` (the page) and `GET /dashboard/fragment` (its live part).

Read-only HTML from Jinja2 templates (templates/dashboard/, autoescaped), plain CSS and a
few lines of script that ask for the fragment every `dashboard.refresh_seconds` and swap it
in when it changed (the fragment carries an ETag; an unchanged one answers 304).

Who may open it (`DashboardAccess`): bound to a loopback address with no `dashboard.auth`,
anyone who can reach it (only this machine can); otherwise whoever shows the credentials of
`dashboard.auth` (a bearer token, accepted once as `?token=` then kept in an HttpOnly
cookie; or HTTP Basic). Bound elsewhere without `dashboard.auth` it answers 403 saying how
to set it. Only these two routes are behind it: /healthz, /metrics, /status, /flags and the
webhooks keep their own rules.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.container import Rollbot
from bot.domain.message import Message
from bot.domain.triggers import format_value
from bot.services.digests.dashboard import DashboardView

COOKIE = "rollbot_dashboard"
COOKIE_DAYS = 7
REALM = "rollbot dashboard"
STATE_LABELS = {
    "running": "Running",
    "paused": "Paused",
    "completed": "Completed",
    "rolled_back": "Rolled back",
}


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class DashboardAccess:
    """Who may open the dashboard, from the bind address and `dashboard.auth`."""

    host: str
    token: str | None = None
    basic_user: str | None = None
    basic_password: str | None = None
    # The env var names, for messages (never their values).
    token_env: str | None = None
    basic_envs: tuple[str, str] | None = None

    @classmethod
    def of(cls, rollbot: Rollbot, host: str) -> DashboardAccess:
        """The access rules of `rollbot` served on `host` (credentials read from its
        environment once, like every other secret)."""
        auth = rollbot.settings.config.dashboard.auth
        env: Mapping[str, str] = rollbot.settings.env
        if auth is None:
            return cls(host)
        if auth.basic is not None:
            names = (auth.basic.user_env, auth.basic.password_env)
            return cls(
                host,
                basic_user=env.get(names[0], ""),
                basic_password=env.get(names[1], ""),
                basic_envs=names,
            )
        return cls(host, token=env.get(auth.token_env or "", ""), token_env=auth.token_env)

    @property
    def configured(self) -> bool:
        """True when `dashboard.auth` is set (then it is asked for on every address)."""
        return self.token_env is not None or self.basic_envs is not None

    @property
    def open_locally(self) -> bool:
        """True when no login is needed: bound to loopback and no auth configured."""
        return not self.configured and is_loopback(self.host)

    def refusal(self) -> str | None:
        """Why the dashboard is shut on this address (no auth configured), else None."""
        if self.configured or is_loopback(self.host):
            return None
        return (
            f"The dashboard is shut: rollbot listens on {self.host}, which other machines "
            "can reach, and no login is configured. Set dashboard.auth in the config "
            "(token_env: ROLLBOT_DASHBOARD_TOKEN, a bearer token; or basic: {user_env, "
            "password_env}) and export that variable, or listen on 127.0.0.1 (--host "
            "127.0.0.1). See the dashboard section of config/rollbot.example.yaml."
        )

    def session_value(self) -> str:
        """What the login cookie holds: a keyed hash of the token, never the token."""
        assert self.token is not None
        return hmac.new(self.token.encode(), b"rollbot-dashboard-session", "sha256").hexdigest()

    def check(self, request: Request) -> Response | None:
        """None when the request may see the dashboard; otherwise the answer to send (403,
        401, or the redirect that trades `?token=` for the cookie)."""
        if self.open_locally:
            return None
        refused = self.refusal()
        if refused is not None:
            return PlainTextResponse(refused, 403)
        if self.basic_envs is not None:
            return self._basic(request)
        return self._token(request)

    def _token(self, request: Request) -> Response | None:
        token = self.token or ""
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and token and _same(given.strip(), token):
            return None
        cookie = request.cookies.get(COOKIE)
        if cookie and token and _same(cookie, self.session_value()):
            return None
        query = request.query_params.get("token")
        if query is not None and token and _same(query, token):
            # Trade the token in the URL for a cookie, and drop it from the address bar
            # (and the browser's history).
            kept = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            rest = urlencode(kept)
            target = request.url.path + (f"?{rest}" if rest else "")
            response = RedirectResponse(target, 303)
            response.set_cookie(
                COOKIE,
                self.session_value(),
                max_age=COOKIE_DAYS * 86400,
                httponly=True,
                samesite="strict",
                secure=_https(request),
                path="/",
            )
            return response
        return PlainTextResponse(
            "The dashboard needs its token: open it once as /?token=<the value of "
            f"{self.token_env}> (a cookie then keeps you logged in), or send "
            "Authorization: Bearer <token>.",
            401,
            headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'},
        )

    def _basic(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, sep, password = base64.b64decode(encoded.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, sep, password = "", "", ""
            # Both compared every time, so the answer's timing says nothing about which.
            user_ok = _same(user, self.basic_user or "")
            password_ok = _same(password, self.basic_password or "")
            if sep and user_ok and password_ok and self.basic_user and self.basic_password:
                return None
        assert self.basic_envs is not None
        return PlainTextResponse(
            "The dashboard needs a login: the user name and password in "
            f"{self.basic_envs[0]} and {self.basic_envs[1]}.",
            401,
            headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
        )


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"


def _time(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%b %d %H:%M UTC") if at is not None else ""


def _iso(at: datetime | None) -> str:
    return at.astimezone(UTC).isoformat() if at is not None else ""


def _text(message: Message | str) -> str:
    return message.plain() if isinstance(message, Message) else message


def templates(rollbot: Rollbot) -> Environment:
    """The dashboard's templates, every value escaped."""
    env = Environment(loader=FileSystemLoader(rollbot.templates_dir), autoescape=True)
    env.filters.update(time=_time, iso=_iso, text=_text, measured=format_value)
    env.globals.update(states=STATE_LABELS)
    return env


def dashboard_routes(rollbot: Rollbot, host: str) -> list[Route]:
    """`/` and `/dashboard/fragment` for `rollbot` served on `host`."""
    access = DashboardAccess.of(rollbot, host)
    env = templates(rollbot)
    refresh = rollbot.settings.config.dashboard.refresh_seconds

    def fragment(view: DashboardView) -> tuple[str, str]:
        html = env.get_template("dashboard/fragment.html.j2").render(view=view)
        return html, '"' + hashlib.sha256(html.encode()).hexdigest()[:32] + '"'

    def showing(
        render: Callable[[Request, DashboardView], Response],
    ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint that refuses whom `access` refuses and renders the dashboard as of
        now for everyone else."""

        async def endpoint(request: Request) -> Response:
            refused = access.check(request)
            if refused is not None:
                return refused
            return render(request, await run_in_threadpool(rollbot.dashboard.view))

        return endpoint

    def page(request: Request, view: DashboardView) -> Response:
        live, etag = fragment(view)
        nonce = secrets.token_urlsafe(16)
        html = env.get_template("dashboard/page.html.j2").render(
            view=view, live=live, etag=etag, refresh=refresh, nonce=nonce
        )
        return HTMLResponse(html, headers=_headers(nonce))

    def live(request: Request, view: DashboardView) -> Response:
        html, etag = fragment(view)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return HTMLResponse(html, headers=headers)

    return [
        Route("/", showing(page), methods=["GET"]),
        Route("/dashboard/fragment", showing(live), methods=["GET"]),
    ]


def _headers(nonce: str) -> dict[str, str]:
    """No framing, nothing cached, and only the page's own style and script run."""
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
            "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
