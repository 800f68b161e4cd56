"""The webhook status provider: the JSON it POSTs, its authentication, its failures."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import httpx
import pytest

from bot.providers.statuspage.base import StatusPageError, StatusUpdate
from bot.providers.statuspage.webhook import WebhookStatusPage

UPDATE = StatusUpdate(
    incident_key="inc-20261129-api-errors",
    title="Elevated API errors",
    status="identified",
    message="A bad deploy; rolling back.",
    impact="major",
    components=["API"],
    at=datetime(2026, 11, 29, 7, 5, tzinfo=UTC),
)
URL = "https://hooks.example.com/services/T0/B0/s3cr3t-path-token"


def recorder(
    status: int = 200, answer: object = None
) -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if answer is None:
            return httpx.Response(status)
        return httpx.Response(status, json=answer)

    return seen, httpx.MockTransport(handle)


def test_posts_the_update_as_json_signed_and_with_a_bearer_token() -> None:
    seen, transport = recorder(200, {"id": "evt-42"})
    provider = WebhookStatusPage(
        URL, bearer_token="tok-abc", hmac_secret="hmac-key", transport=transport
    )
    assert provider.publish(UPDATE) == "evt-42"
    [request] = seen
    assert request.method == "POST" and str(request.url) == URL
    assert json.loads(request.content) == {
        "type": "rollbot.status_update",
        "incident_key": "inc-20261129-api-errors",
        "title": "Elevated API errors",
        "status": "identified",
        "message": "A bad deploy; rolling back.",
        "impact": "major",
        "components": ["API"],
        "at": "2026-11-29T07:05:00+00:00",
    }
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer tok-abc"
    expected = hmac.new(b"hmac-key", request.content, hashlib.sha256).hexdigest()
    assert request.headers["x-rollbot-signature"] == f"sha256={expected}"


def test_no_authentication_headers_unless_configured() -> None:
    seen, transport = recorder(204)
    reference = WebhookStatusPage(URL, transport=transport).publish(UPDATE)
    assert reference == "https://hooks.example.com HTTP 204"
    assert "authorization" not in seen[0].headers
    assert "x-rollbot-signature" not in seen[0].headers


@pytest.mark.parametrize("status", [301, 400, 401, 404, 500, 503])
def test_non_2xx_is_an_error_that_hides_the_url_path_and_secrets(status: int) -> None:
    _, transport = recorder(status, {"error": "nope"})
    provider = WebhookStatusPage(URL, bearer_token="tok-abc", transport=transport)
    with pytest.raises(StatusPageError) as raised:
        provider.publish(UPDATE)
    text = str(raised.value)
    assert f"HTTP {status}" in text and "hooks.example.com" in text
    assert "s3cr3t-path-token" not in text and "tok-abc" not in text


def test_network_failure_is_an_error_without_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    provider = WebhookStatusPage(URL, transport=httpx.MockTransport(refuse))
    with pytest.raises(StatusPageError, match="ConnectError") as raised:
        provider.publish(UPDATE)
    assert "s3cr3t-path-token" not in str(raised.value)


def test_reference_prefers_the_receivers_url() -> None:
    _, transport = recorder(201, {"url": "https://status.example.com/x/1", "id": 7})
    assert WebhookStatusPage(URL, transport=transport).publish(UPDATE) == (
        "https://status.example.com/x/1"
    )
