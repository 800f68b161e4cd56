"""The built-in flag API over HTTP: GET/POST /flags/{key} and /flags/{key}/evaluate."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.clock import ManualClock
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.store import audit
from bot.store.models import AuditRow
from bot.web.app import create_app

AUTH = {"Authorization": "Bearer test-token"}
DEFAULTS = {
    "enabled": False,
    "rollout_percentage": 0,
    "user_segments": [],
    "fallback_enabled": True,
    "monitoring_enabled": True,
    "segment_rollouts": {},
    "variants": [],
}


@pytest.fixture
def client(rollbot: Rollbot) -> Iterator[TestClient]:
    with TestClient(create_app(rollbot)) as test_client:
        yield test_client


def events(bot: Rollbot, key: str) -> list[AuditRow]:
    with bot.db.session() as s:
        return audit.events(s, subject_id=key)


def post(client: TestClient, key: str, body: Any) -> Any:
    return client.post(f"/flags/{key}", json=body, headers=AUTH)


def test_get_unknown_flag_is_404(client: TestClient) -> None:
    response = client.get("/flags/nope")
    assert response.status_code == 404
    assert "nope" in response.json()["error"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer"},
        {"Authorization": "test-token"},
        {"Authorization": "Basic test-token"},
        {"Authorization": "Bearer test-token-and-more"},
    ],
)
def test_post_without_the_right_token_is_401_and_changes_nothing(
    client: TestClient, rollbot: Rollbot, headers: dict[str, str]
) -> None:
    response = client.post("/flags/guarded", json={"enabled": True}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["hint"]
    assert client.get("/flags/guarded").status_code == 404
    assert events(rollbot, "guarded") == []


def test_writes_are_refused_when_no_token_is_configured(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> None:
    bot = build(settings_factory(database_url, api_token=None), clock)
    try:
        with TestClient(create_app(bot)) as client:
            for headers in ({}, AUTH, {"Authorization": "Bearer "}):
                response = client.post("/flags/x", json={"enabled": True}, headers=headers)
                assert response.status_code == 401
                assert "ROLLBOT_API_TOKEN" in response.json()["hint"]
            assert bot.flags.get("x") is None
    finally:
        bot.db.dispose()


def test_post_creates_the_flag(client: TestClient, rollbot: Rollbot) -> None:
    response = post(client, "realtime-features", {"enabled": False})
    assert response.status_code == 200
    assert response.json() == DEFAULTS
    got = client.get("/flags/realtime-features")
    assert got.status_code == 200
    assert got.json() == DEFAULTS


def test_the_seed_curl_shape_works(client: TestClient) -> None:
    # curl -X POST .../flags/realtime-features -H "Authorization: Bearer $T" \
    #      -d '{"enabled": false}'  -> curl sends it form-encoded.
    response = client.post(
        "/flags/realtime-features",
        content=b'{"enabled": false}',
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is False
    assert client.get("/flags/realtime-features").json() == DEFAULTS


def test_partial_updates_keep_other_fields(client: TestClient) -> None:
    post(client, "f", {"enabled": True, "user_segments": ["beta"], "fallback_enabled": False})
    assert post(client, "f", {"rollout_percentage": 25}).status_code == 200
    response = post(client, "f", {"monitoring_enabled": False})
    assert response.json() == {
        "enabled": True,
        "rollout_percentage": 25,
        "user_segments": ["beta"],
        "fallback_enabled": False,
        "monitoring_enabled": False,
        "segment_rollouts": {},
        "variants": [],
    }
    assert post(client, "f", {}).json() == response.json()  # empty change: nothing moves
    assert client.get("/flags/f").json() == response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rollout_percentage": 150}, "rollout_percentage"),
        ({"rollout_percentage": -1}, "rollout_percentage"),
        ({"rollout_percentage": "50"}, "rollout_percentage"),
        ({"enabled": "yes"}, "enabled"),
        ({"user_segments": "beta"}, "user_segments"),
        ({"colour": "blue"}, "colour"),
        ([], "body"),
        ("enabled", "body"),
        (None, "body"),
    ],
)
def test_invalid_body_is_422_naming_the_field_and_changes_nothing(
    client: TestClient, rollbot: Rollbot, body: Any, field: str
) -> None:
    post(client, "f", {"enabled": True, "rollout_percentage": 5})
    audited = len(events(rollbot, "f"))
    response = post(client, "f", body)
    assert response.status_code == 422
    assert response.json()["error"].startswith(f"{field}: ")
    assert client.get("/flags/f").json()["rollout_percentage"] == 5
    assert len(events(rollbot, "f")) == audited


def test_unknown_field_error_lists_the_allowed_fields(client: TestClient) -> None:
    error = post(client, "f", {"colour": "blue"}).json()["error"]
    assert "unknown field" in error
    assert "rollout_percentage" in error


@pytest.mark.parametrize(
    "raw",
    [
        b"enabled=false",
        b"{not json",
        b"\xff\xfe",
        b"{'enabled': 1}",
        pytest.param(b'{"rollout_percentage": ' + b"1" * 5000 + b"}", id="5000-digit number"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="100000 deep"),
    ],
)
def test_non_json_body_is_422(client: TestClient, raw: bytes) -> None:
    response = client.post(
        "/flags/f", content=raw, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"].startswith("body: ")
    assert client.get("/flags/f").status_code == 404


def test_empty_body_is_422(client: TestClient) -> None:
    response = client.post("/flags/f", headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"].startswith("body: ")


@pytest.mark.parametrize("key", ["a.b", "a_b", "a-b", "a~b", "Mixed.Case_1-2~3", "x" * 100])
def test_unleash_style_keys_work(client: TestClient, key: str) -> None:
    assert post(client, key, {"enabled": True}).status_code == 200
    assert client.get(f"/flags/{key}").json()["enabled"] is True
    evaluated = client.get(f"/flags/{key}/evaluate", params={"userId": "u1"})
    assert evaluated.status_code == 200
    assert evaluated.json()["flag"] == key


@pytest.mark.parametrize("path", ["a%20b", "x" * 101, "a%25", "a%3Ab", "caf%C3%A9"])
def test_bad_keys_are_rejected_with_a_hint(client: TestClient, path: str) -> None:
    response = post(client, path, {"enabled": True})
    assert response.status_code == 400
    assert "invalid flag key" in response.json()["error"]
    assert "Unleash" in response.json()["error"]
    assert client.get(f"/flags/{path}").status_code == 400
    assert client.get(f"/flags/{path}/evaluate", params={"userId": "u"}).status_code == 400


@pytest.mark.parametrize("path", ["a/b", "a%2Fb"])
def test_key_with_a_slash_is_not_a_flag(client: TestClient, rollbot: Rollbot, path: str) -> None:
    # The ASGI path is decoded, so an encoded slash is a slash too: no route matches.
    response = post(client, path, {"enabled": True})
    assert response.status_code in (400, 404)
    assert rollbot.flags.get("a/b") is None
    assert rollbot.flags.get("a") is None
    assert rollbot.flags.get("b") is None


def test_evaluate(client: TestClient) -> None:
    post(client, "gr1", {"enabled": True, "rollout_percentage": 73})
    response = client.get("/flags/gr1/evaluate", params={"userId": "123"})
    assert response.status_code == 200
    assert response.json() == {
        "flag": "gr1",
        "userId": "123",
        "enabled": True,
        "variant": "on",
        "payload": None,
        "reason": "bucket 73 <= 73%",
        "kind": "SPLIT",
    }
    post(client, "gr1", {"rollout_percentage": 72})
    response = client.get("/flags/gr1/evaluate", params={"userId": "123"})
    assert response.json()["enabled"] is False
    assert response.json()["reason"] == "bucket 73 > 72%"


def test_evaluate_with_segments(client: TestClient) -> None:
    post(client, "seg", {"enabled": True, "rollout_percentage": 100, "user_segments": ["beta"]})
    url = "/flags/seg/evaluate"
    outside = client.get(url, params={"userId": "u1"}).json()
    assert outside["enabled"] is False
    assert outside["reason"] == "user not in an eligible segment"
    assert client.get(url, params={"userId": "u1", "segment": "staff"}).json()["enabled"] is False
    inside = client.get(url, params=[("userId", "u1"), ("segment", "staff"), ("segment", "beta")])
    assert inside.json()["enabled"] is True


def test_evaluate_disabled_unknown_and_missing_user(client: TestClient) -> None:
    post(client, "off", {"enabled": False, "rollout_percentage": 100})
    response = client.get("/flags/off/evaluate", params={"userId": "u1"})
    assert response.json()["enabled"] is False
    assert response.json()["reason"] == "flag disabled"
    assert client.get("/flags/nope/evaluate", params={"userId": "u1"}).status_code == 404
    missing = client.get("/flags/off/evaluate")
    assert missing.status_code == 422
    assert missing.json()["error"].startswith("userId: ")


def test_every_change_is_audited_via_api(client: TestClient, rollbot: Rollbot) -> None:
    post(client, "audited", {"enabled": False})
    post(client, "audited", {"enabled": True, "rollout_percentage": 10})
    post(client, "audited", {"rollout_percentage": 20})
    rows = events(rollbot, "audited")
    assert [r.action for r in rows] == ["flag.created", "flag.changed", "flag.changed"]
    for row in rows:
        assert (row.actor, row.via, row.subject_type) == ("api", "api", "flag")
    assert rows[0].before is None
    assert rows[0].after == DEFAULTS
    assert rows[1].before == DEFAULTS
    assert rows[1].after == {**DEFAULTS, "enabled": True, "rollout_percentage": 10}
    assert rows[2].before == rows[1].after
    assert rows[2].after == {**DEFAULTS, "enabled": True, "rollout_percentage": 20}


def test_rollout_changes_show_in_the_api(
    client: TestClient, rollbot: Rollbot, clock: ManualClock
) -> None:
    from bot.domain.actor import Actor, Via

    rollbot.rollouts.start("realtime-features", None, Actor("U1", Via.SLACK))
    assert client.get("/flags/realtime-features").json() == DEFAULTS
    rollbot.rollouts.advance("realtime-features", Actor("U1", Via.SLACK))
    doc = client.get("/flags/realtime-features").json()
    # The shipped plan's staff step: on for the internal segment only
    assert doc == {**DEFAULTS, "enabled": True, "segment_rollouts": {"internal": 100}}
    clock.advance(timedelta(days=1))
    rollbot.rollouts.advance("realtime-features", Actor("U1", Via.SLACK))
    doc = client.get("/flags/realtime-features").json()
    assert (doc["enabled"], doc["rollout_percentage"]) == (True, 5)
    assert doc["segment_rollouts"] == {"internal": 100}  # staff stay at 100%


def test_healthz_names_the_database(client: TestClient, database_url: str) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["database"] == ("postgresql" if database_url.startswith("postgres") else "sqlite")


def _post_together(clients: list[TestClient], key: str, bodies: list[Any]) -> list[int]:
    """POST one body per client to /flags/{key}, all released at the same moment."""
    barrier = threading.Barrier(len(clients))
    statuses = [0] * len(clients)

    def send(i: int) -> None:
        barrier.wait()
        statuses[i] = clients[i].post(f"/flags/{key}", json=bodies[i], headers=AUTH).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return statuses


def test_two_replicas_creating_the_same_flag_at_once_both_succeed(
    rollbot: Rollbot, settings: Settings, clock: ManualClock
) -> None:
    """Two writers creating one new flag at the same moment: both changes apply, no 500.

    Fails on PostgreSQL (see the report): both transactions find no row to lock, both
    INSERT, the second gets a UniqueViolation on flag_pkey.
    """
    replica = build(settings, clock)
    try:
        clients = [
            TestClient(create_app(rollbot), raise_server_exceptions=False),
            TestClient(create_app(replica), raise_server_exceptions=False),
        ]
        for round_ in range(10):
            key = f"race-{round_}"
            statuses = _post_together(clients, key, [{"enabled": True}, {"rollout_percentage": 40}])
            assert statuses == [200, 200], f"{key}: {statuses}"
            doc = clients[0].get(f"/flags/{key}").json()
            assert (doc["enabled"], doc["rollout_percentage"]) == (True, 40)
            assert [r.action for r in events(rollbot, key)] == ["flag.created", "flag.changed"]
    finally:
        replica.db.dispose()
