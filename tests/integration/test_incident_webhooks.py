"""Incidents from outside: Prometheus Alertmanager's webhook over HTTP, and the entries the
PagerDuty webhook route and automatic rollback call."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.container import Rollbot
from bot.domain.incident import EventKind
from bot.services.chat import ChatPorts
from bot.store import incidents as store
from bot.web.app import create_app
from tests.conftest import Providers
from tests.fakes.incidents import FakePager, RecordingChat

TOKEN = "am-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

FIRING: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}:{alertname="HighErrorRate"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "rollbot",
    "groupLabels": {"alertname": "HighErrorRate"},
    "commonLabels": {"alertname": "HighErrorRate", "severity": "critical", "service": "api"},
    "commonAnnotations": {"summary": "API error rate above 1%"},
    "externalURL": "http://alertmanager.internal:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "severity": "critical", "service": "api"},
            "annotations": {"summary": "API error rate is 2.3%"},
            "startsAt": "2026-11-02T08:58:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.internal:9090/graph?g0.expr=...",
            "fingerprint": "a1b2c3d4e5f60718",
        }
    ],
}


@pytest.fixture
def chat_ports() -> ChatPorts:
    """The `rollbot` fixture's chat records what incidents say."""
    return replace(ChatPorts.none(), incidents=RecordingChat())


@pytest.fixture
def pager() -> FakePager:
    return FakePager()


@pytest.fixture
def providers(pager: FakePager) -> Providers:
    """The `rollbot` fixture pages through the fake."""
    return Providers(pager=pager)


@pytest.fixture
def chat(rollbot: Rollbot) -> RecordingChat:
    recording = rollbot.incidents.chat
    assert isinstance(recording, RecordingChat)
    return recording


@pytest.fixture
def client(rollbot: Rollbot, chat: RecordingChat) -> Iterator[TestClient]:
    rollbot.settings.env["ROLLBOT_ALERTMANAGER_TOKEN"] = TOKEN
    with TestClient(create_app(rollbot)) as test_client:
        yield test_client


def alert_events(bot: Rollbot, incident_id: int) -> list[str]:
    with bot.db.session() as s:
        return [e.text for e in store.timeline(s, incident_id) if e.kind is EventKind.ALERT]


def test_firing_declares_repeats_add_nothing_resolved_goes_on_the_timeline(
    rollbot: Rollbot, client: TestClient
) -> None:
    response = client.post("/webhooks/alertmanager", json=FIRING, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["action"] == "declared"
    [view] = rollbot.incidents.incidents()
    assert (view.title, view.severity, view.components) == (
        "API error rate above 1%",
        "sev1",
        ["api"],
    )
    assert view.source == "alertmanager" and view.commander is None  # no on-call, no person
    again = client.post("/webhooks/alertmanager", json=FIRING, headers=AUTH)
    assert again.json()["action"] == "added"
    assert len(rollbot.incidents.incidents()) == 1
    assert len(alert_events(rollbot, view.id)) == 1  # the repeat was a duplicate
    resolved = copy.deepcopy(FIRING)
    resolved["status"] = "resolved"
    resolved["alerts"][0]["status"] = "resolved"
    assert client.post("/webhooks/alertmanager", json=resolved, headers=AUTH).status_code == 200
    assert alert_events(rollbot, view.id)[-1].startswith("resolved: HighErrorRate")
    assert rollbot.incidents.view(view.id).active  # people resolve incidents, alerts do not


def test_resolved_without_an_incident_is_ignored(rollbot: Rollbot, client: TestClient) -> None:
    resolved = copy.deepcopy(FIRING)
    resolved["status"] = "resolved"
    response = client.post("/webhooks/alertmanager", json=resolved, headers=AUTH)
    assert response.json() == {"action": "ignored", "incident": None}
    assert rollbot.incidents.incidents() == []


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, FIRING, 401),
        ({"Authorization": "Bearer wrong"}, FIRING, 401),
        (AUTH, {"status": "firing"}, 400),
        (AUTH, {"status": "weird", "alerts": [{}], "groupKey": "x"}, 400),
    ],
)
def test_bad_requests_change_nothing(
    rollbot: Rollbot, client: TestClient, headers: dict[str, str], body: Any, status: int
) -> None:
    response = client.post("/webhooks/alertmanager", json=body, headers=headers)
    assert response.status_code == status
    assert "error" in response.json()
    assert rollbot.incidents.incidents() == []


def test_without_a_token_configured_the_door_is_shut(rollbot: Rollbot, chat: RecordingChat) -> None:
    with TestClient(create_app(rollbot)) as client:
        response = client.post("/webhooks/alertmanager", json=FIRING, headers=AUTH)
    assert response.status_code == 403 and "ROLLBOT_ALERTMANAGER_TOKEN" in response.json()["error"]
    assert rollbot.incidents.incidents() == []


def test_pagerduty_declares_without_paging_back_and_acknowledges(
    rollbot: Rollbot, chat: RecordingChat, pager: FakePager
) -> None:
    view = rollbot.incidents.declare_from_pagerduty(
        "Q1ABCDEF", "Checkout down", urgency="high", html_url="https://x.pagerduty.com/incidents/Q1"
    )
    same = rollbot.incidents.declare_from_pagerduty("Q1ABCDEF", "Checkout down")
    assert same.id == view.id and view.severity == "sev2" and view.source == "pagerduty"
    assert pager.events == []  # PagerDuty already paged; rollbot does not page again
    assert rollbot.incidents.pagerduty_event("Q1ABCDEF", "incident.acknowledged", "Carol")
    assert rollbot.incidents.view(view.id).acknowledged_at is not None
    assert pager.events == []  # nor acknowledge back
    assert not rollbot.incidents.pagerduty_event("UNKNOWN", "incident.resolved")


def test_the_pagerduty_webhook_handler_signature(rollbot: Rollbot, chat: RecordingChat) -> None:
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    handler = rollbot.incidents.on_pagerduty_event  # what POST /webhooks/pagerduty calls
    handler("incident.triggered", "Q2", "Search down", "low", "https://pd/Q2", at)
    [view] = rollbot.incidents.incidents()
    assert (view.title, view.severity, view.source) == ("Search down", "sev3", "pagerduty")
    handler("incident.acknowledged", "Q2", "Search down", "low", "https://pd/Q2", at)
    assert rollbot.incidents.view(view.id).acknowledged_at is not None
    handler("incident.resolved", "Q2", "Search down", "low", "https://pd/Q2", at)
    assert any("incident.resolved" in t for t in alert_events(rollbot, view.id))
