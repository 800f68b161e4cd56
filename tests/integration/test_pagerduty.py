"""The PagerDuty pager through the real `pagerduty` clients over an httpx2 mock transport.

Everything above the transport is the production code path: the package's URL handling,
auth headers, pagination, entity unwrapping, retry loop and error classes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx2
import pytest

from bot.providers.paging.base import OnCall, PagingError, PersonPage
from bot.providers.paging.pagerduty import PagerDutyPager

API = "https://api.pagerduty.test"
EVENTS = "https://events.pagerduty.test"
TOKEN = "u+pd-api-token-ABCD1234"
ROUTING_KEY = "R0UT1NGKEY0000000000000000WXYZ"
Handler = Callable[[httpx2.Request], httpx2.Response]


def answer(status: int, body: Any) -> httpx2.Response:
    """A response whose body is streamed, as from a real server.

    `httpx2.Response(json=...)` arrives already read, so its stream is never closed and
    `response.elapsed` (which the REST client's bookkeeping reads) is never set.
    """
    data = json.dumps(body).encode()
    return httpx2.Response(
        status,
        headers={"content-type": "application/json", "content-length": str(len(data))},
        stream=httpx2.ByteStream(data),
    )


class FakePagerDuty:
    """Answers REST and Events API requests; records them; can be scripted to fail."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.oncalls: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.scripted: list[httpx2.Response | Exception] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if self.scripted:
            next_answer = self.scripted.pop(0)
            if isinstance(next_answer, Exception):
                raise next_answer
            return next_answer
        path = request.url.path
        if request.url.host == "events.pagerduty.test" and path == "/v2/enqueue":
            event = json.loads(request.content)
            key = event.get("dedup_key", "generated")
            body = {"status": "success", "message": "Event processed", "dedup_key": key}
            return answer(202, body)
        if path == "/oncalls":
            return answer(200, {"oncalls": self.oncalls, "limit": 100, "offset": 0, "more": False})
        if path.startswith("/users/") and path.split("/")[2] in self.users:
            return answer(200, {"user": self.users[path.split("/")[2]]})
        if path == "/users" and request.method == "GET":
            query = parse_qs(request.url.query.decode()).get("query", [""])[0]
            found = [u for u in self.users.values() if query.lower() in u["email"].lower()]
            return answer(200, {"users": found, "limit": 100, "offset": 0, "more": False})
        if path == "/incidents" and request.method == "POST":
            incident = json.loads(request.content)["incident"]
            opened = {
                **incident,
                "id": f"Q{len(self.requests):04d}",
                "html_url": f"https://acme.pagerduty.com/incidents/Q{len(self.requests):04d}",
            }
            return answer(201, {"incident": opened})
        return answer(404, {"error": {"message": "Not Found", "code": 2100}})

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path == "/v2/enqueue"]


@pytest.fixture
def fake() -> FakePagerDuty:
    return FakePagerDuty()


@pytest.fixture
def pager(fake: FakePagerDuty) -> PagerDutyPager:
    return PagerDutyPager(
        escalation_policy_id="PEP1234",
        routing_key=ROUTING_KEY,
        api_token=TOKEN,
        from_email="rollbot@example.com",
        service_id="PSVC123",
        api_url=API,
        events_url=EVENTS,
        transport=httpx2.MockTransport(fake),
        sleep_timer=0.0,
    )


def oncall(level: int, user_id: str, name: str) -> dict[str, Any]:
    return {
        "escalation_policy": {"id": "PEP1234", "type": "escalation_policy_reference"},
        "escalation_level": level,
        "schedule": {"id": f"PS{level}", "type": "schedule_reference"},
        "user": {"id": user_id, "type": "user_reference", "summary": name},
        "start": "2026-11-29T00:00:00Z",
        "end": "2026-11-30T00:00:00Z",
    }


def test_retries_are_bounded_on_both_clients(pager: PagerDutyPager) -> None:
    for client in (pager.rest, pager.events):
        assert client.retry[429] == 3
        assert client.max_network_attempts == 2
        assert client.sleep_timer == 0.0


def test_on_call_is_the_earliest_level_with_their_email(
    pager: PagerDutyPager, fake: FakePagerDuty
) -> None:
    fake.oncalls = [oncall(2, "PMGR", "Manager"), oncall(1, "PDEV", "Dana Dev")]
    fake.users["PDEV"] = {"id": "PDEV", "name": "Dana Dev", "email": "dana@example.com"}
    assert pager.on_call() == OnCall("Dana Dev", "dana@example.com", "PDEV")
    query, user = fake.requests
    assert (query.method, query.url.path) == ("GET", "/oncalls")
    params = parse_qs(query.url.query.decode())
    assert params["escalation_policy_ids[]"] == ["PEP1234"]
    assert query.headers["authorization"] == f"Token token={TOKEN}"
    assert query.headers["from"] == "rollbot@example.com"
    assert query.headers["accept"] == "application/vnd.pagerduty+json;version=2"
    assert (user.method, user.url.path) == ("GET", "/users/PDEV")


def test_nobody_on_call_is_none_without_a_user_lookup(
    pager: PagerDutyPager, fake: FakePagerDuty
) -> None:
    assert pager.on_call() is None
    assert [r.url.path for r in fake.requests] == ["/oncalls"]


def test_trigger_sends_the_exact_events_v2_payload(
    pager: PagerDutyPager, fake: FakePagerDuty
) -> None:
    pager.trigger(
        "rollbot-inc-20261129-api-errors",
        "SEV1: Elevated API errors",
        "rollbot",
        "critical",
        {"channel": "#inc-20261129-api-errors", "severity": "sev1"},
    )
    [request] = fake.requests
    assert (request.method, str(request.url)) == ("POST", f"{EVENTS}/v2/enqueue")
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers  # the routing key travels in the body
    assert fake.events() == [
        {
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": "rollbot-inc-20261129-api-errors",
            "payload": {
                "summary": "SEV1: Elevated API errors",
                "source": "rollbot",
                "severity": "critical",
                "custom_details": {"channel": "#inc-20261129-api-errors", "severity": "sev1"},
            },
        }
    ]


def test_acknowledge_and_resolve_send_the_same_dedup_key(
    pager: PagerDutyPager, fake: FakePagerDuty
) -> None:
    pager.acknowledge("rollbot-inc-1")
    pager.resolve("rollbot-inc-1")
    assert fake.events() == [
        {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "rollbot-inc-1"},
        {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "rollbot-inc-1"},
    ]


def test_a_long_summary_is_cut_to_the_events_api_limit(
    pager: PagerDutyPager, fake: FakePagerDuty
) -> None:
    pager.trigger("k", "x" * 5000, "rollbot", "error", {})
    payload = fake.events()[0]["payload"]
    assert len(payload["summary"]) == 1024
    assert "custom_details" not in payload


def test_500_then_202_is_retried_by_the_client(pager: PagerDutyPager, fake: FakePagerDuty) -> None:
    fake.scripted = [answer(500, {"status": "error"})]
    pager.trigger("k", "s", "rollbot", "warning", {})
    assert len(fake.events()) == 2


def test_rate_limiting_is_bounded_then_an_error(pager: PagerDutyPager, fake: FakePagerDuty) -> None:
    fake.scripted = [answer(429, {"message": "Too many"})] * 10
    with pytest.raises(PagingError, match="HTTP 429"):
        pager.resolve("k")
    assert len(fake.requests) == 4  # the first try and three retries, not forever


def test_a_refused_event_says_why_without_the_routing_key(
    pager: PagerDutyPager, fake: FakePagerDuty
) -> None:
    fake.scripted = [
        httpx2.Response(
            400,
            json={
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": [f"'routing_key' {ROUTING_KEY} is invalid"],
            },
        )
    ]
    with pytest.raises(PagingError) as raised:
        pager.trigger("k", "s", "rollbot", "info", {})
    text = str(raised.value)
    assert "triggering failed: HTTP 400: Event object is invalid" in text
    assert ROUTING_KEY not in text and ROUTING_KEY[-4:] not in text


def test_a_bad_token_is_an_error_without_the_token(
    pager: PagerDutyPager, fake: FakePagerDuty
) -> None:
    fake.scripted = [answer(401, {"error": {"message": "Unauthorized"}})]
    with pytest.raises(PagingError) as raised:
        pager.on_call()
    text = str(raised.value)
    assert "who is on call failed: HTTP 401: Unauthorized" in text
    assert TOKEN not in text and TOKEN[-4:] not in text


def test_network_failures_are_bounded_then_an_error(
    pager: PagerDutyPager, fake: FakePagerDuty
) -> None:
    request = httpx2.Request("POST", f"{EVENTS}/v2/enqueue")
    fake.scripted = [httpx2.ConnectError("connection refused", request=request)] * 5
    with pytest.raises(PagingError, match="acknowledging failed") as raised:
        pager.acknowledge("k")
    assert len(fake.requests) == 3  # max_network_attempts=2 retries after the first
    assert ROUTING_KEY not in str(raised.value)


@pytest.mark.parametrize("severity", ["sev1", "CRITICAL", ""])
def test_an_unknown_severity_is_refused_before_sending(
    pager: PagerDutyPager, fake: FakePagerDuty, severity: str
) -> None:
    with pytest.raises(PagingError, match="unknown severity"):
        pager.trigger("k", "s", "rollbot", severity, {})
    assert fake.requests == []


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_bad_dedup_key_is_refused_before_sending(
    pager: PagerDutyPager, fake: FakePagerDuty, key: str
) -> None:
    with pytest.raises(PagingError, match="dedup_key"):
        pager.resolve(key)
    assert fake.requests == []


def test_on_call_of_a_schedule_asks_for_that_schedule(
    pager: PagerDutyPager, fake: FakePagerDuty
) -> None:
    fake.oncalls = [oncall(1, "PDEV", "Dana Dev")]
    fake.users["PDEV"] = {"id": "PDEV", "name": "Dana Dev", "email": "dana@example.com"}
    dana = OnCall("Dana Dev", "dana@example.com", "PDEV")
    assert pager.on_call_for(schedule_id="PSCHED1") == dana
    params = parse_qs(fake.requests[0].url.query.decode())
    assert params["schedule_ids[]"] == ["PSCHED1"]
    assert "escalation_policy_ids[]" not in params


def test_a_user_is_found_by_their_exact_email(pager: PagerDutyPager, fake: FakePagerDuty) -> None:
    fake.users["PDEV"] = {"id": "PDEV", "name": "Dana", "email": "dana@example.com"}
    fake.users["PDEV2"] = {"id": "PDEV2", "name": "Dana 2", "email": "dana@example.com.au"}
    assert pager.user_by_email("Dana@Example.com") == "PDEV"
    assert pager.user_by_email("nobody@example.com") is None


def test_paging_a_person_opens_an_incident_assigned_to_them(
    pager: PagerDutyPager, fake: FakePagerDuty
) -> None:
    paged = pager.page_person(
        PersonPage(
            "rollbot-inc-1-PDEV", "[SEV2] Checkout errors", "U0ALICE needs you", user_id="PDEV"
        )
    )
    request = fake.requests[-1]
    assert (request.method, request.url.path) == ("POST", "/incidents")
    assert request.headers["from"] == "rollbot@example.com"
    incident = json.loads(request.content)["incident"]
    assert incident["service"] == {"id": "PSVC123", "type": "service_reference"}
    assert incident["assignments"] == [{"assignee": {"id": "PDEV", "type": "user_reference"}}]
    assert incident["incident_key"] == "rollbot-inc-1-PDEV"
    assert incident["title"] == "[SEV2] Checkout errors"
    assert incident["body"] == {"type": "incident_body", "details": "U0ALICE needs you"}
    assert paged.incident_id.startswith("Q") and paged.url is not None

    pager.page_person(PersonPage("k2", "t", "d", escalation_policy_id="PSECPOL"))
    incident = json.loads(fake.requests[-1].content)["incident"]
    assert incident["escalation_policy"] == {
        "id": "PSECPOL",
        "type": "escalation_policy_reference",
    }
    assert "assignments" not in incident


def test_paging_a_person_needs_a_service_and_says_which_keys(fake: FakePagerDuty) -> None:
    pager = PagerDutyPager(
        escalation_policy_id="PEP1234",
        routing_key=ROUTING_KEY,
        api_token=TOKEN,
        api_url=API,
        events_url=EVENTS,
        transport=httpx2.MockTransport(fake),
        sleep_timer=0.0,
    )
    with pytest.raises(PagingError, match=r"paging\.pagerduty\.service_id"):
        pager.page_person(PersonPage("k", "t", "d", user_id="PDEV"))
    assert fake.requests == []


def test_a_refused_incident_says_why_without_the_token(
    pager: PagerDutyPager, fake: FakePagerDuty
) -> None:
    fake.scripted = [
        answer(
            400,
            {
                "error": {
                    "message": "Invalid Input Provided",
                    "code": 2001,
                    "errors": ["Open incident with matching dedup key already exists"],
                }
            },
        )
    ]
    with pytest.raises(PagingError) as caught:
        pager.page_person(PersonPage("k", "t", "d", user_id="PDEV"))
    assert "matching dedup key already exists" in str(caught.value)
    assert TOKEN not in str(caught.value)
