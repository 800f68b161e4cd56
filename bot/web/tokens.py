"""Who may read flags as an application: the client token (read-only) or the API token,
and the request bodies those endpoints accept."""

from __future__ import annotations

import hmac

from starlette.requests import Request

# No evaluation context is anywhere near this; larger bodies are refused unread.
MAX_BODY = 1024 * 1024

NO_CLIENT_TOKEN = (
    "no client token is set on the server: set ROLLBOT_CLIENT_TOKEN (a read-only token for "
    "applications' SDKs) and restart rollbot"
)


def same(given: str, token: str | None) -> bool:
    """Constant-time comparison of a presented token with a configured one."""
    return token is not None and hmac.compare_digest(given.encode(), token.encode())


def presented(request: Request, bare: bool = False) -> str | None:
    """The token a request carries: `Authorization: Bearer <t>`, `X-API-Key: <t>`, or, where
    Unleash SDKs call (`bare`), `Authorization: <t>` without a scheme."""
    header = request.headers.get("authorization", "").strip()
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        return rest.strip()
    if bare and header and not rest:
        return header
    key = request.headers.get("x-api-key", "").strip()
    return key or None


def may_read(
    request: Request, client_token: str | None, api_token: str | None, bare: bool = False
) -> bool:
    """True when the request carries the client token or the API token."""
    given = presented(request, bare)
    return given is not None and (same(given, client_token) or same(given, api_token))


class BodyTooLarge(Exception):
    """The request body is over MAX_BODY."""


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refused (BodyTooLarge) as soon as it passes `limit`, without reading the
    rest into memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
