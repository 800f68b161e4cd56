"""Real SDKs against a running rollbot (uvicorn on an ephemeral port): OpenFeature's Python
SDK with its OFREP provider, and Unleash's Python SDK (which evaluates locally, with
Unleash's own engine, from /api/client/features). Both are asked about thousands of users
and must agree with rollbot's own /flags/{key}/evaluate for every one of them, before and
after `/rollout advance` (through the rollout service)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from openfeature import api as openfeature
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from UnleashClient import UnleashClient
from UnleashClient.utils import InstanceAllowType

from bot.clock import ManualClock
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.web.app import create_app
from tests.asgi_thread import serving
from tests.flag_sdk_support import CLIENT_TOKEN, WRITE, sdk_settings

FLAG = "realtime-features"
USERS = [f"user-{i}" for i in range(2000)]
ALICE = Actor("U0ALICE", Via.SLACK)
BOB = Actor("U0BOB", Via.SLACK)


@dataclass
class Running:
    bot: Rollbot
    url: str


@pytest.fixture
def running(
    settings_factory: Callable[..., Settings], tmp_path: Path, clock: ManualClock
) -> Iterator[Running]:
    bot = build(sdk_settings(settings_factory, f"sqlite:///{tmp_path}/sdk.db"), clock)
    try:
        with serving(create_app(bot), "rollbot-sdk") as url:
            yield Running(bot, url)
    finally:
        bot.db.dispose()


def rollbots_answers(bot: Rollbot, users: list[str], **fields: str) -> dict[str, tuple[bool, str]]:
    """rollbot's own answers: what GET /flags/{key}/evaluate says (the same call, without
    an HTTP round trip per user)."""
    out = {}
    for user in users:
        answer = bot.flag_api.evaluate(FLAG, user, [], fields)
        assert answer is not None
        out[user] = (answer.enabled, answer.variant)
    return out


def ofrep_answers(url: str, users: list[str], **fields: str) -> dict[str, tuple[bool, str]]:
    openfeature.set_provider(
        OFREPProvider(url, headers_factory=lambda: {"Authorization": f"Bearer {CLIENT_TOKEN}"})
    )
    client = openfeature.get_client()
    out = {}
    for user in users:
        details = client.get_boolean_details(FLAG, False, EvaluationContext(user, dict(fields)))
        assert details.error_code is None, details.error_message
        out[user] = (details.value, str(details.variant))
    return out


def unleash_answers(url: str, users: list[str], **fields: str) -> dict[str, tuple[bool, str]]:
    sdk = UnleashClient(
        url=f"{url}/api",
        app_name="rollbot-tests",
        custom_headers={"Authorization": CLIENT_TOKEN},
        disable_metrics=True,
        disable_registration=True,
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
    )
    sdk.initialize_client()
    try:
        assert sdk.is_initialized
        out = {}
        for user in users:
            context = {"userId": user, "properties": dict(fields)}
            enabled = sdk.is_enabled(FLAG, context)
            variant = sdk.get_variant(FLAG, context)
            if not enabled:
                out[user] = (False, "off")
            else:  # Unleash names the variant of a flag without variants "disabled"
                out[user] = (True, variant["name"] if variant["enabled"] else "on")
        return out
    finally:
        sdk.destroy()


def disagreements(a: dict[str, tuple[bool, str]], b: dict[str, tuple[bool, str]]) -> list[str]:
    return [u for u in a if a[u] != b[u]]


def test_sdks_agree_with_rollbot_before_and_after_an_advance(
    running: Running, clock: ManualClock
) -> None:
    bot = running.bot
    bot.rollouts.start(FLAG, None, ALICE)
    clock.advance(timedelta(days=7))
    assert bot.rollouts.advance(FLAG, BOB).view.percentage == 5
    httpx.post(
        f"{running.url}/flags/{FLAG}",
        json={"variants": [{"name": "control", "weight": 50}, {"name": "realtime", "weight": 50}]},
        headers=WRITE,
    ).raise_for_status()
    assert httpx.get(f"{running.url}/flags/{FLAG}/evaluate", params={"userId": "u"}).json()[
        "variant"
    ] in ("off", "control", "realtime")
    for step in ("5%", "25%"):
        ours = rollbots_answers(running.bot, USERS)
        on = sum(1 for enabled, _ in ours.values() if enabled)
        expected = int(step[:-1]) * len(USERS) // 100
        assert abs(on - expected) < len(USERS) * 0.03, (step, on)
        assert {v for e, v in ours.values() if e} == {"control", "realtime"}
        assert disagreements(ours, ofrep_answers(running.url, USERS)) == [], step
        assert disagreements(ours, unleash_answers(running.url, USERS)) == [], step
        if step == "5%":
            clock.advance(timedelta(days=7))
            assert bot.rollouts.advance(FLAG, BOB).view.percentage == 25


def test_sdks_agree_on_segment_rollouts(running: Running) -> None:
    httpx.post(
        f"{running.url}/flags/{FLAG}",
        json={
            "enabled": True,
            "rollout_percentage": 5,
            "segment_rollouts": {"internal": 100, "beta": 40},
        },
        headers=WRITE,
    ).raise_for_status()
    users = USERS[:500]
    for fields in (
        {},
        {"email": "someone@Example.com"},
        {"country": "CA", "appVersion": "2.1.0"},
        {"country": "CA", "appVersion": "1.9.9"},
    ):
        ours = rollbots_answers(running.bot, users, **fields)
        assert disagreements(ours, ofrep_answers(running.url, users, **fields)) == [], fields
        assert disagreements(ours, unleash_answers(running.url, users, **fields)) == [], fields
    staff = rollbots_answers(running.bot, users[:50], email="a@example.com")
    assert all(enabled for enabled, _ in staff.values())
