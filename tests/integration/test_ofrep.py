"""OFREP at /ofrep/v1/evaluate/flags[/{key}]: every answer checked against the protocol's
OpenAPI document, the same answers as /flags/{key}/evaluate, ETag / 304, auth, bad input."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.clock import ManualClock
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.domain.flag import parse_flag_change
from bot.web.app import create_app
from tests.flag_sdk_support import (
    CLIENT_TOKEN,
    READ,
    WRITE,
    sdk_rollbot,
    sdk_settings,
    serving_flag,
)
from tests.ofrep_spec import check

ONE = "/ofrep/v1/evaluate/flags/{}"
BULK = "/ofrep/v1/evaluate/flags"
FLAG = {
    "enabled": True,
    "rollout_percentage": 30,
    "segment_rollouts": {"internal": 100},
    "variants": [{"name": "control", "weight": 50}, {"name": "realtime", "weight": 50}],
}


bot = pytest.fixture(sdk_rollbot)


@pytest.fixture
def client(bot: Rollbot) -> Iterator[TestClient]:
    with serving_flag(bot, FLAG) as test_client:
        yield test_client


def evaluate(client: TestClient, key: str, body: Any, headers: Any = None) -> Any:
    response = client.post(ONE.format(key), json=body, headers=headers or READ)
    check(ONE.format(key), body, response.status_code, response.content)
    return response


def bulk(client: TestClient, body: Any, headers: Any = None) -> Any:
    response = client.post(BULK, json=body, headers={**READ, **(headers or {})})
    check(BULK, body, response.status_code, response.content, headers)
    return response


def test_every_answer_carries_value_reason_variant_and_fallback(client: TestClient) -> None:
    for user in ("u1", "u2", "u3", "u4", "u5", "u6"):
        body = evaluate(client, "rt", {"context": {"targetingKey": user}}).json()
        assert set(body) == {"key", "value", "reason", "variant", "metadata"}
        assert body["metadata"]["fallback_enabled"] is True
        assert body["reason"] == "SPLIT"
        assert body["variant"] in (("control", "realtime") if body["value"] else ("off",))


def test_a_segment_matched_by_its_constraints_gets_its_percentage(client: TestClient) -> None:
    staff = {"context": {"targetingKey": "u9", "email": "Ada@EXAMPLE.com"}}
    body = evaluate(client, "rt", staff).json()
    assert (body["value"], body["reason"], body["metadata"]["segment"]) == (
        True,
        "TARGETING_MATCH",
        "internal",
    )
    assert body["variant"] in ("control", "realtime")


def test_ofrep_agrees_with_evaluate_for_every_user(client: TestClient) -> None:
    for i in range(300):
        user = f"user-{i}"
        ours = client.get("/flags/rt/evaluate", params={"userId": user}).json()
        theirs = evaluate(client, "rt", {"context": {"targetingKey": user}}).json()
        assert (theirs["value"], theirs["variant"]) == (ours["enabled"], ours["variant"]), user


def test_a_disabled_flag_says_disabled(client: TestClient) -> None:
    client.post("/flags/rt", json={"enabled": False}, headers=WRITE)
    body = evaluate(client, "rt", {"context": {"targetingKey": "u1"}}).json()
    assert (body["value"], body["reason"], body["variant"]) == (False, "DISABLED", "off")


def test_everyone_at_100_is_static(client: TestClient) -> None:
    client.post("/flags/all", json={"enabled": True, "rollout_percentage": 100}, headers=WRITE)
    body = evaluate(client, "all", {"context": {"targetingKey": "u1"}}).json()
    assert (body["value"], body["reason"], body["variant"]) == (True, "STATIC", "on")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"context": {}}, "TARGETING_KEY_MISSING"),
        ({"context": {"targetingKey": ""}}, "TARGETING_KEY_MISSING"),
        ({"context": {"targetingKey": 7}}, "TARGETING_KEY_MISSING"),
        ({"context": "u1"}, "INVALID_CONTEXT"),
        ({}, "INVALID_CONTEXT"),
        ({"context": {"targetingKey": "u", "segment": {"a": 1}}}, "INVALID_CONTEXT"),
        ([1, 2], "PARSE_ERROR"),
    ],
)
def test_bad_contexts_are_400_with_the_protocols_code(
    client: TestClient, body: Any, code: str
) -> None:
    for path, send in ((ONE.format("rt"), evaluate), (BULK, None)):
        response = send(client, "rt", body) if send else bulk(client, body)
        assert response.status_code == 400, path
        assert response.json()["errorCode"] == code


def test_a_body_that_is_not_json_is_a_parse_error(client: TestClient) -> None:
    for path in (ONE.format("rt"), BULK):
        response = client.post(path, content=b"{not json", headers=READ)
        assert (response.status_code, response.json()["errorCode"]) == (400, "PARSE_ERROR")


def test_unknown_flag_is_404_flag_not_found(client: TestClient) -> None:
    response = evaluate(client, "nope", {"context": {"targetingKey": "u1"}})
    assert response.status_code == 404
    assert response.json() == {
        "key": "nope",
        "errorCode": "FLAG_NOT_FOUND",
        "errorDetails": "flag 'nope' does not exist",
    }


def test_bodies_over_one_megabyte_are_413(client: TestClient) -> None:
    huge = b'{"context": {"targetingKey": "u", "pad": "' + b"x" * (1024 * 1024) + b'"}}'
    for path in (ONE.format("rt"), BULK):
        assert client.post(path, content=huge, headers=READ).status_code == 413


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"X-API-Key": "wrong"},
        {"Authorization": CLIENT_TOKEN},  # bare: only where Unleash SDKs call
        {"Authorization": f"Basic {CLIENT_TOKEN}"},
    ],
)
def test_without_a_valid_key_it_is_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(
        ONE.format("rt"), json={"context": {"targetingKey": "u"}}, headers=headers
    )
    assert response.status_code == 401
    check(ONE.format("rt"), {}, 401, b"")


@pytest.mark.parametrize(
    "headers",
    [READ, {"X-API-Key": CLIENT_TOKEN}, WRITE, {"X-API-Key": "test-token"}],
)
def test_the_client_token_and_the_write_token_both_read(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.post(
        ONE.format("rt"), json={"context": {"targetingKey": "u"}}, headers=headers
    )
    assert response.status_code == 200


def test_the_client_token_never_writes(client: TestClient, bot: Rollbot) -> None:
    for headers in (READ, {"X-API-Key": CLIENT_TOKEN}):
        response = client.post("/flags/rt", json={"enabled": False}, headers=headers)
        assert response.status_code in (401, 403)
        assert "ROLLBOT_API_TOKEN" in response.json()["hint"]
    doc = bot.flags.get("rt")
    assert doc is not None and doc.enabled is True


def test_without_a_client_token_the_endpoints_say_how_to_set_one(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> None:
    rollbot = build(sdk_settings(settings_factory, database_url, client_token=None), clock)
    try:
        with TestClient(create_app(rollbot)) as c:
            for headers in ({}, WRITE):
                response = c.post(BULK, json={"context": {"targetingKey": "u"}}, headers=headers)
                assert response.status_code == 401
                assert "ROLLBOT_CLIENT_TOKEN" in response.json()["errorDetails"]
                response = c.get("/api/client/features", headers=headers)
                assert response.status_code == 401
                assert "ROLLBOT_CLIENT_TOKEN" in response.json()["hint"]
    finally:
        rollbot.db.dispose()


def test_bulk_etag_gives_304_until_a_flag_or_the_context_changes(client: TestClient) -> None:
    ctx = {"context": {"targetingKey": "u1", "country": "CA"}}
    first = bulk(client, ctx)
    assert first.status_code == 200
    assert [f["key"] for f in first.json()["flags"]] == ["rt"]
    etag = first.headers["etag"]
    again = bulk(client, ctx, {"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    other = bulk(client, {"context": {"targetingKey": "u2"}}, {"If-None-Match": etag})
    assert other.status_code == 200
    client.post("/flags/rt", json={"rollout_percentage": 31}, headers=WRITE)
    changed = bulk(client, ctx, {"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


def test_a_change_on_another_replica_is_served_after_a_poll(
    bot: Rollbot, settings: Settings, clock: ManualClock
) -> None:
    replica = build(bot.settings, clock)
    # Without its lifespan the app runs no background poll (every 0.5 s of real time,
    # which on a loaded machine could come before the "not yet" below): the test polls.
    client = TestClient(create_app(bot))
    assert client.post("/flags/rt", json=FLAG, headers=WRITE).status_code == 200
    try:
        ctx = {"context": {"targetingKey": "u1"}}
        before = evaluate(client, "rt", ctx).json()
        assert before["reason"] == "SPLIT"
        with TestClient(create_app(replica)) as other:
            other.post(
                "/flags/rt", json={"rollout_percentage": 100, "segment_rollouts": {}}, headers=WRITE
            )
        # Not yet: this replica evaluates from memory; its poll reads the version row.
        assert evaluate(client, "rt", ctx).json()["reason"] == "SPLIT"
        assert bot.flag_api.snapshot is not None and bot.flag_api.snapshot.poll() is True
        after = evaluate(client, "rt", ctx).json()
        assert (after["value"], after["reason"]) == (True, "STATIC")
        assert bot.flag_api.snapshot.poll() is False  # nothing new: nothing reloaded
    finally:
        client.close()
        replica.db.dispose()


def test_evaluation_reads_no_database(client: TestClient, bot: Rollbot) -> None:
    from sqlalchemy import event

    evaluate(client, "rt", {"context": {"targetingKey": "warm"}})
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(bot.db.engine, "before_cursor_execute", count)
    try:
        for i in range(50):
            evaluate(client, "rt", {"context": {"targetingKey": f"u{i}"}})
            bulk(client, {"context": {"targetingKey": f"u{i}"}})
    finally:
        event.remove(bot.db.engine, "before_cursor_execute", count)
    # At most the background poll's one-row version read (and its BEGIN); never a flag row.
    assert [s for s in statements if re.search(r"\bFROM flag\b(?!_state)", s)] == []
    assert all("flag_state" in s or s.startswith("BEGIN") for s in statements), statements


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"segment_rollouts": {"nobody": 5}}, "segment_rollouts: unknown segment 'nobody'"),
        ({"variants": [{"name": "a", "weight": 60}]}, "variants: weights sum to 60"),
        ({"variants": [{"name": "", "weight": 100}]}, "variants.0.name"),
    ],
)
def test_post_flags_refuses_bad_segments_and_variants_with_422(
    client: TestClient, bot: Rollbot, body: dict[str, Any], field: str
) -> None:
    response = client.post("/flags/rt", json=body, headers=WRITE)
    assert response.status_code == 422
    assert response.json()["error"].startswith(field)
    doc = bot.flags.get("rt")
    assert doc is not None and doc.segment_rollouts == {"internal": 100}  # unchanged


def test_the_background_poll_serves_another_replicas_change_within_a_second(
    bot: Rollbot, client: TestClient, clock: ManualClock
) -> None:
    """The running app's own poll (every flags.state_poll_seconds, 0.5 s) picks up a change
    another replica committed: no request of this replica reads the database for it."""
    ctx = {"context": {"targetingKey": "u1"}}
    assert evaluate(client, "rt", ctx).json()["reason"] == "SPLIT"
    replica = build(bot.settings, clock)
    try:
        replica.flag_api.apply("rt", parse_flag_change({"enabled": False}), Actor("api", Via.API))
        changed_at = time.monotonic()
        while evaluate(client, "rt", ctx).json()["reason"] != "DISABLED":
            assert time.monotonic() - changed_at < 1.0, "not served within a second"
            time.sleep(0.02)
    finally:
        replica.db.dispose()
