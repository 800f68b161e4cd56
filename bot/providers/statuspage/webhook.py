"""The webhook status provider: POST each update as JSON to a URL.

For anything rollbot has no provider for (a chat room, an internal page, a custom
pipeline). Optional authentication, both from the environment: a bearer token, and/or an
HMAC-SHA256 of the exact body sent, in `X-Rollbot-Signature: sha256=<hex>`, so the receiver
can check the update came from rollbot. Any non-2xx answer is a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.providers.statuspage.base import StatusPageError, StatusUpdate, check_update

SIGNATURE_HEADER = "X-Rollbot-Signature"


def update_document(update: StatusUpdate) -> dict[str, Any]:
    """The JSON body sent for an update."""
    return {
        "type": "rollbot.status_update",
        "incident_key": update.incident_key,
        "title": update.title,
        "status": update.status,
        "message": update.message,
        "impact": update.impact,
        "components": list(update.components),
        "at": update.at.isoformat(),
    }


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookStatusPage:
    """POSTs updates to one URL."""

    def __init__(
        self,
        url: str,
        *,
        bearer_token: str | None = None,
        hmac_secret: str | None = None,
        timeout_seconds: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        name: str | None = None,
    ) -> None:
        self._url = url
        # The URL may embed a token (it can come from the environment for that reason), so
        # names and errors show only its scheme and host.
        parts = urlsplit(url)
        self.where = f"{parts.scheme}://{parts.hostname}"
        self.name = name or f"webhook:{parts.hostname}"
        self._bearer_token = bearer_token
        self._hmac_secret = hmac_secret
        self._client = httpx.Client(timeout=timeout_seconds, transport=transport)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def check(self) -> str | None:
        """A webhook has no harmless question: every call publishes."""
        return None

    def publish(self, update: StatusUpdate) -> str:
        """POST the update; the reference is the receiver's `id` or `url`, else its host."""
        check_update(update)
        body = json.dumps(update_document(update), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "rollbot"}
        if self._bearer_token:
            headers["Authorization"] = f"Bearer {self._bearer_token}"
        if self._hmac_secret:
            headers[SIGNATURE_HEADER] = sign(body, self._hmac_secret)
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            # Only the error's kind: its text can repeat the full URL, token and all.
            raise StatusPageError(
                f"{self.name}: POST {self.where} failed: {type(exc).__name__}"
            ) from None
        if not response.is_success:
            raise StatusPageError(
                f"{self.name}: POST {self.where} answered HTTP {response.status_code}"
            )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            for key in ("url", "id"):
                if isinstance(answer.get(key), str | int) and answer[key] != "":
                    return str(answer[key])
        return f"{self.where} HTTP {response.status_code}"
