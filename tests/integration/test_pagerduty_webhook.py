"""POST /webhooks/pagerduty: v3 webhook signatures, event parsing, the injected callback."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bot.clock import ManualClock
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.web.app import create_app
from bot.web.pagerduty_webhook import (
    pagerduty_webhook_routes,
    signature_valid,
)
from tests.conftest import built

SECRET = "whsec-pd-0123456789abcdef"
CONFIG = """
paging:
  pagerduty:
    escalation_policy_id: PEP1234
    webhook_secret_env: PD_WEBHOOK_SECRET
"""


def event(event_type: str = "incident.triggered", **data: Any) -> bytes:
    """A v3 webhook body shaped like PagerDuty's documented example."""
    incident = {
        "id": "Q2ABCDEF",
        "type": "incident",
        "self": "https://api.pagerduty.com/incidents/Q2ABCDEF",
        "html_url": "https://acme.pagerduty.com/incidents/Q2ABCDEF",
        "number": 42,
        "status": event_type.split(".")[1],
        "incident_key": "rollbot-inc-20261129-api-errors",
        "title": "Elevated API errors",
        "urgency": "high",
        "service": {"id": "PSVC", "type": "service_reference"},
        **data,
    }
    body = {
        "event": {
            "id": "01ABCDEFG",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-11-29T07:03:12.345Z",
            "agent": {"id": "PUSER", "type": "user_reference"},
            "client": None,
            "data": incident,
        }
    }
    return json.dumps(body).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail = fail

    def __call__(self, *args: Any) -> None:
        self.calls.append(args)
        if self.fail:
            raise RuntimeError("incident service is down")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The webhook never touches the database: one backend is enough."""
    return f"sqlite:///{tmp_path / 'rollbot.db'}"


@pytest.fixture
def bot(
    settings_factory: Callable[..., Settings], sqlite_url: str, clock: ManualClock
) -> Iterator[Rollbot]:
    settings = settings_factory(sqlite_url, CONFIG)
    settings.env["PD_WEBHOOK_SECRET"] = SECRET
    # The pager is built at start and needs its keys (never called here).
    settings.env["PAGERDUTY_ROUTING_KEY"] = "R0123456789abcdef0123456789abcdef"
    settings.env["PAGERDUTY_API_TOKEN"] = "u+apitoken"
    with built(settings, clock) as rollbot:
        yield rollbot


def client_for(bot: Rollbot, handler: Callable[..., None]) -> TestClient:
    return TestClient(Starlette(routes=pagerduty_webhook_routes(bot, handler)))


def post(client: TestClient, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-PagerDuty-Signature"] = signature
    return client.post("/webhooks/pagerduty", content=body, headers=headers)


@pytest.mark.parametrize(
    "event_type", ["incident.triggered", "incident.acknowledged", "incident.resolved"]
)
def test_signed_incident_events_reach_the_callback(bot: Rollbot, event_type: str) -> None:
    recorder = Recorder()
    body = event(event_type)
    response = post(client_for(bot, recorder), body, sign(body))
    assert response.status_code == 202
    assert response.json() == {"accepted": True, "event_type": event_type}
    assert recorder.calls == [
        (
            event_type,
            "Q2ABCDEF",
            "Elevated API errors",
            "high",
            "https://acme.pagerduty.com/incidents/Q2ABCDEF",
            datetime(2026, 11, 29, 7, 3, 12, 345000, tzinfo=UTC),
        )
    ]


def test_one_valid_signature_among_several_is_enough(bot: Rollbot) -> None:
    recorder = Recorder()
    body = event()
    header = f"{sign(body, 'old-secret')}, {sign(body)},v1=deadbeef"
    assert post(client_for(bot, recorder), body, header).status_code == 202
    assert len(recorder.calls) == 1


@pytest.mark.parametrize(
    "make_header",
    [
        lambda body: None,
        lambda body: "",
        lambda body: sign(body, "wrong-secret"),
        lambda body: sign(body + b" "),
        lambda body: sign(body).replace("v1=", "v0="),
        lambda body: sign(body).removeprefix("v1="),
        lambda body: "v1=",
    ],
)
def test_missing_or_bad_signature_is_401_and_nothing_happens(
    bot: Rollbot, make_header: Callable[[bytes], str | None]
) -> None:
    recorder = Recorder()
    body = event()
    response = post(client_for(bot, recorder), body, make_header(body))
    assert response.status_code == 401
    assert "X-PagerDuty-Signature" in response.json()["error"]
    assert recorder.calls == []


def test_a_tampered_body_is_refused(bot: Rollbot) -> None:
    recorder = Recorder()
    signature = sign(event())
    tampered = event(title="Something else")
    assert post(client_for(bot, recorder), tampered, signature).status_code == 401
    assert recorder.calls == []


def test_other_events_are_acknowledged_and_ignored(bot: Rollbot) -> None:
    recorder = Recorder()
    ping = json.dumps(
        {"event": {"event_type": "pagey.ping", "occurred_at": "2026-11-29T07:00:00Z"}}
    ).encode()
    response = post(client_for(bot, recorder), ping, sign(ping))
    assert response.status_code == 202
    assert response.json() == {"accepted": False, "ignored": "pagey.ping"}
    assert recorder.calls == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "v3 webhook"),
        (b'{"event": {"data": {}}}', "v3 webhook"),
        (
            b'{"event": {"event_type": "incident.resolved", "occurred_at": "yesterday"}}',
            "occurred_at",
        ),
        (
            b'{"event": {"event_type": "incident.resolved", "occurred_at": "2026-11-29T07:00:00Z",'
            b' "data": {"title": "no id"}}}',
            "event.data.id",
        ),
    ],
)
def test_signed_but_malformed_events_are_400(bot: Rollbot, body: bytes, error: str) -> None:
    recorder = Recorder()
    response = post(client_for(bot, recorder), body, sign(body))
    assert response.status_code == 400
    assert error in response.json()["error"]
    assert recorder.calls == []


def test_a_failing_callback_is_500_so_pagerduty_retries(bot: Rollbot) -> None:
    body = event()
    response = post(client_for(bot, Recorder(fail=True)), body, sign(body))
    assert response.status_code == 500
    assert "retry" in response.json()["error"]


def test_without_a_secret_every_request_is_refused(
    settings_factory: Callable[..., Settings], sqlite_url: str, clock: ManualClock
) -> None:
    settings = settings_factory(sqlite_url, CONFIG)  # PD_WEBHOOK_SECRET unset
    settings.env["PAGERDUTY_ROUTING_KEY"] = "R0123456789abcdef0123456789abcdef"
    settings.env["PAGERDUTY_API_TOKEN"] = "u+apitoken"
    rollbot = build(settings, clock)
    try:
        recorder = Recorder()
        body = event()
        response = post(client_for(rollbot, recorder), body, sign(body))
        assert response.status_code == 503
        assert "PD_WEBHOOK_SECRET" in response.json()["hint"]
        assert recorder.calls == []
    finally:
        rollbot.db.dispose()


def test_mounted_in_the_app_a_signed_trigger_declares_an_incident(bot: Rollbot) -> None:
    body = event("incident.triggered")
    with TestClient(create_app(bot)) as client:
        response = post(client, body, sign(body))
    assert response.status_code == 202
    (incident,) = bot.incidents.incidents()
    assert incident.active and incident.source == "pagerduty"


def test_signature_check_is_hmac_sha256_hex_of_the_raw_body() -> None:
    body = b'{"event":{}}'
    digest = hmac.new(b"s", body, hashlib.sha256).hexdigest()
    assert signature_valid(body, f"v1={digest}", "s")
    assert signature_valid(body, f"v1={digest.upper()}", "s")
    assert not signature_valid(body, f"v1={digest}", "t")
    assert not signature_valid(body, None, "s")
