"""Variant payloads and overrides through every door: stored by POST /flags/{key} (422 naming
the field when malformed), read back by GET, handed out by /flags/{key}/evaluate, OFREP
(in `metadata`, every answer checked against the protocol's OpenAPI document) and the
Unleash client API (in Unleash's shape)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.container import Rollbot
from tests.flag_sdk_support import (
    CLIENT_TOKEN,
    READ,
    WRITE,
    sdk_rollbot,
    serving_flag,
)
from tests.ofrep_spec import check

CONTROL = {
    "name": "control",
    "weight": 50,
    "payload": {"type": "string", "value": "polling"},
    "overrides": [{"contextName": "userId", "values": ["vip-1", "vip-2"]}],
}
REALTIME = {
    "name": "realtime",
    "weight": 50,
    "payload": {"type": "json", "value": '{"transport": "websocket", "batch": 20}'},
    "overrides": [{"contextName": "country", "values": ["NZ"]}],
}
FLAG = {"enabled": True, "rollout_percentage": 100, "variants": [CONTROL, REALTIME]}
PAYLOADS = {"control": CONTROL["payload"], "realtime": REALTIME["payload"]}


bot = pytest.fixture(sdk_rollbot)


@pytest.fixture
def client(bot: Rollbot) -> Iterator[TestClient]:
    with serving_flag(bot, FLAG) as test_client:
        yield test_client


def evaluate(client: TestClient, user: str, **fields: str) -> Any:
    response = client.get("/flags/rt/evaluate", params={"userId": user, **fields})
    assert response.status_code == 200
    return response.json()


def test_the_document_keeps_payloads_and_overrides(client: TestClient, bot: Rollbot) -> None:
    assert client.get("/flags/rt").json()["variants"] == [CONTROL, REALTIME]
    doc = bot.flags.get("rt")  # as stored in the database
    assert doc is not None and doc.variants[1].payload is not None
    assert doc.variants[1].payload.value == REALTIME["payload"]["value"]
    # a variant without them reads as before they existed
    plain = [{"name": "a", "weight": 100}]
    assert client.post("/flags/rt", json={"variants": plain}, headers=WRITE).json()["variants"] == (
        plain
    )


def test_evaluate_hands_out_the_variants_payload(client: TestClient) -> None:
    seen = set()
    for i in range(60):
        body = evaluate(client, f"user-{i}")
        assert body["payload"] == PAYLOADS[body["variant"]]
        seen.add(body["variant"])
    assert seen == {"control", "realtime"}


def test_overrides_decide_the_variant(client: TestClient) -> None:
    hashed = {f"user-{i}": evaluate(client, f"user-{i}")["variant"] for i in range(40)}
    to_control = next(u for u, v in hashed.items() if v == "control")
    assert evaluate(client, to_control, country="NZ")["variant"] == "realtime"
    assert {evaluate(client, u)["variant"] for u in ("vip-1", "vip-2")} == {"control"}


def test_a_flag_without_variants_has_no_payload(client: TestClient) -> None:
    client.post("/flags/plain", json={"enabled": True, "rollout_percentage": 100}, headers=WRITE)
    body = client.get("/flags/plain/evaluate", params={"userId": "u"}).json()
    assert (body["variant"], body["payload"]) == ("on", None)


def test_ofrep_puts_the_payload_in_metadata(client: TestClient) -> None:
    path = "/ofrep/v1/evaluate/flags/rt"
    for user in ("vip-1", "user-1", "user-2", "user-3"):
        request = {"context": {"targetingKey": user}}
        response = client.post(path, json=request, headers=READ)
        check(path, request, response.status_code, response.content)
        body = response.json()
        assert body["value"] is True  # the flag's value stays its boolean
        payload = PAYLOADS[body["variant"]]
        assert body["metadata"]["payload_type"] == payload["type"]
        assert body["metadata"]["payload"] == payload["value"]
    request = {"context": {"targetingKey": "user-1"}}
    response = client.post("/ofrep/v1/evaluate/flags", json=request, headers=READ)
    check("/ofrep/v1/evaluate/flags", request, response.status_code, response.content)
    (flag,) = response.json()["flags"]
    assert flag["metadata"]["payload"] == PAYLOADS[flag["variant"]]["value"]


def test_the_unleash_client_api_serves_them_in_unleashs_shape(client: TestClient) -> None:
    response = client.get("/api/client/features/rt", headers={"Authorization": CLIENT_TOKEN})
    control, realtime = response.json()["variants"]
    assert control["payload"] == {"type": "string", "value": "polling"}
    assert control["overrides"] == [{"contextName": "userId", "values": ["vip-1", "vip-2"]}]
    assert realtime["weight"] == 500
    assert realtime["overrides"] == [{"contextName": "country", "values": ["NZ"]}]


@pytest.mark.parametrize(
    ("variant", "field"),
    [
        ({"payload": {"type": "yaml", "value": "a: 1"}}, "variants.0.payload.type"),
        ({"payload": {"type": "json", "value": "{not json"}}, "variants.0.payload.value"),
        ({"payload": {"type": "number", "value": "many"}}, "variants.0.payload.value"),
        ({"payload": {"type": "csv"}}, "variants.0.payload.value"),
        ({"payload": {"type": "string", "value": "x" * 9000}}, "variants.0.payload.value"),
        ({"payload": "polling"}, "variants.0.payload"),
        ({"overrides": [{"contextName": "userId", "values": []}]}, "variants.0.overrides.0.values"),
        ({"overrides": [{"values": ["u"]}]}, "variants.0.overrides.0.contextName"),
        (
            {"overrides": [{"contextName": "userId", "values": [7]}]},
            "variants.0.overrides.0.values.0",
        ),
    ],
)
def test_bad_payloads_and_overrides_are_422_naming_the_field(
    client: TestClient, bot: Rollbot, variant: dict[str, Any], field: str
) -> None:
    body = {"variants": [{"name": "a", "weight": 100, **variant}]}
    response = client.post("/flags/rt", json=body, headers=WRITE)
    assert response.status_code == 422
    assert response.json()["error"].startswith(f"{field}: ")
    doc = bot.flags.get("rt")
    assert doc is not None and [v.name for v in doc.variants] == ["control", "realtime"]
