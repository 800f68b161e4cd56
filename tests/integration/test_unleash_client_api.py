"""Unleash's client API at /api/client: features in the v2 format with ETag / 304, the
token sent bare as Unleash SDKs send it, registration and metrics (counted as exposures in
/metrics)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.container import Rollbot
from tests.flag_sdk_support import CLIENT_TOKEN, WRITE, sdk_rollbot, serving_flag

SDK = {"Authorization": CLIENT_TOKEN}


bot = pytest.fixture(sdk_rollbot)


@pytest.fixture
def client(bot: Rollbot) -> Iterator[TestClient]:
    flag = {
        "enabled": True,
        "rollout_percentage": 5,
        "segment_rollouts": {"internal": 100},
        "variants": [{"name": "control", "weight": 50}, {"name": "realtime", "weight": 50}],
    }
    with serving_flag(bot, flag) as test_client:
        yield test_client


def test_features_in_unleash_v2_format(client: TestClient) -> None:
    response = client.get("/api/client/features", headers=SDK)
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 2
    (feature,) = body["features"]
    assert (feature["name"], feature["enabled"]) == ("rt", True)
    everyone, internal, named = feature["strategies"]
    assert everyone["name"] == "flexibleRollout"
    assert everyone["parameters"] == {"rollout": "5", "stickiness": "default", "groupId": "rt"}
    assert everyone["constraints"] == []
    assert internal["parameters"]["rollout"] == "100"
    assert internal["constraints"] == [
        {
            "contextName": "email",
            "operator": "STR_ENDS_WITH",
            "values": ["@example.com"],
            "caseInsensitive": True,
            "inverted": False,
        }
    ]
    assert named["constraints"][0] == {
        "contextName": "segment",
        "operator": "IN",
        "values": ["internal"],
        "caseInsensitive": False,
        "inverted": False,
    }
    # Weights out of 1000, as Unleash keeps them.
    assert [(v["name"], v["weight"]) for v in feature["variants"]] == [
        ("control", 500),
        ("realtime", 500),
    ]


def test_one_feature_and_an_unknown_one(client: TestClient) -> None:
    response = client.get("/api/client/features/rt", headers=SDK)
    assert response.status_code == 200 and response.json()["name"] == "rt"
    assert client.get("/api/client/features/nope", headers=SDK).status_code == 404


def test_etag_gives_304_until_a_flag_changes(client: TestClient) -> None:
    etag = client.get("/api/client/features", headers=SDK).headers["etag"]
    again = client.get("/api/client/features", headers={**SDK, "If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    client.post("/flags/rt", json={"rollout_percentage": 25}, headers=WRITE)
    changed = client.get("/api/client/features", headers={**SDK, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["features"][0]["strategies"][0]["parameters"]["rollout"] == "25"


@pytest.mark.parametrize(
    "headers", [SDK, {"Authorization": f"Bearer {CLIENT_TOKEN}"}, {"Authorization": "test-token"}]
)
def test_the_token_bare_or_as_bearer(client: TestClient, headers: dict[str, str]) -> None:
    assert client.get("/api/client/features", headers=headers).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "wrong"}, {"Authorization": "Bearer x"}])
def test_without_a_valid_token_it_is_401(client: TestClient, headers: dict[str, str]) -> None:
    for path in ("/api/client/features", "/api/client/features/rt"):
        assert client.get(path, headers=headers).status_code == 401
    assert client.post("/api/client/metrics", json={}, headers=headers).status_code == 401


def metric(client: TestClient, flag: str, variant: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'rollbot_flag_exposures_total{{flag="{flag}",variant="{variant}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_metrics_are_counted_as_exposures(client: TestClient) -> None:
    report = {
        "appName": "shop",
        "instanceId": "i-1",
        "bucket": {
            "start": "2026-12-01T00:00:00Z",
            "stop": "2026-12-01T00:01:00Z",
            "toggles": {"rt": {"yes": 7, "no": 3, "variants": {"control": 4, "realtime": 3}}},
        },
    }
    assert client.post("/api/client/metrics", json=report, headers=SDK).status_code == 202
    assert client.post("/api/client/metrics", json=report, headers=SDK).status_code == 202
    assert (metric(client, "rt", "on"), metric(client, "rt", "off")) == (14.0, 6.0)
    assert (metric(client, "rt", "control"), metric(client, "rt", "realtime")) == (8.0, 6.0)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"appName": "a"},
        {"bucket": {"toggles": []}},
        {"bucket": {"toggles": {"rt": {"yes": -1}}}},
        {"bucket": {"toggles": {"rt": {"yes": "many"}}}},
        {"bucket": {"toggles": {"rt": {"yes": 1, "variants": []}}}},
    ],
)
def test_malformed_metrics_are_400_and_count_nothing(client: TestClient, body: Any) -> None:
    response = client.post("/api/client/metrics", json=body, headers=SDK)
    assert response.status_code == 400
    assert response.json()["error"]
    assert metric(client, "rt", "on") == 0.0


def test_register_is_202_and_needs_an_app_name(client: TestClient) -> None:
    body = {"appName": "shop", "instanceId": "i-1", "strategies": ["flexibleRollout"]}
    assert client.post("/api/client/register", json=body, headers=SDK).status_code == 202
    bad = client.post("/api/client/register", json={"instanceId": "i"}, headers=SDK)
    assert bad.status_code == 400 and "appName" in bad.json()["error"]
    assert client.post("/api/client/register", content=b"{", headers=SDK).status_code == 400
