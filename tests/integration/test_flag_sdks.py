"""Real SDKs against a running rollbot (uvicorn on an ephemeral port): OpenFeature's Python
SDK with its OFREP provider, and Unleash's Python and Node.js SDKs (which evaluate locally,
with Unleash's own engines, from /api/client/features). Each is asked about thousands of
users and must agree with rollbot's own /flags/{key}/evaluate for every one of them, before
and after `/rollout advance` (through the rollout service).

The Node.js SDK (npm `unleash-client`) is installed by tests/unleash/install_sdk.sh into a
cache outside the clone and driven by tests/unleash/evaluate.mjs; its tests skip, saying
why, when npm is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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
UNLEASH_DIR = Path(__file__).resolve().parent.parent / "unleash"

# Per user: whether they have the feature, their variant (`on`/`off` without variants) and the
# variant's payload as (type, value), or None.
Answer = tuple[bool, str, tuple[str, str] | None]
Answers = dict[str, Answer]
VARIANTS = [
    # every 7th user is overridden to control, whatever the hashing says
    {
        "name": "control",
        "weight": 50,
        "payload": {"type": "string", "value": "polling"},
        "overrides": [{"contextName": "userId", "values": USERS[::7]}],
    },
    {"name": "realtime", "weight": 50, "payload": {"type": "json", "value": '{"transport": "ws"}'}},
]

pytestmark = pytest.mark.slow  # real servers and SDKs, thousands of evaluations each


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


def rollbots_answers(bot: Rollbot, users: list[str], **fields: str) -> Answers:
    """rollbot's own answers: what GET /flags/{key}/evaluate says (the same call, without
    an HTTP round trip per user)."""
    out = {}
    for user in users:
        answer = bot.flag_api.evaluate(FLAG, user, [], fields)
        assert answer is not None
        payload = None if answer.payload is None else (answer.payload.type, answer.payload.value)
        out[user] = (answer.enabled, answer.variant, payload)
    return out


def _payload(raw: object) -> tuple[str, str] | None:
    """An SDK's payload ({type, value} in Unleash's SDKs) as (type, value)."""
    if not isinstance(raw, dict):
        return None
    return (str(raw["type"]), str(raw["value"]))


def ofrep_answers(url: str, users: list[str], **fields: str) -> Answers:
    openfeature.set_provider(
        OFREPProvider(url, headers_factory=lambda: {"Authorization": f"Bearer {CLIENT_TOKEN}"})
    )
    client = openfeature.get_client()
    out = {}
    for user in users:
        details = client.get_boolean_details(FLAG, False, EvaluationContext(user, dict(fields)))
        assert details.error_code is None, details.error_message
        meta = details.flag_metadata
        payload = (str(meta["payload_type"]), str(meta["payload"])) if "payload" in meta else None
        out[user] = (details.value, str(details.variant), payload)
    return out


def unleash_answers(url: str, users: list[str], **fields: str) -> Answers:
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
                out[user] = (False, "off", None)
            elif not variant["enabled"]:  # Unleash's "disabled": a flag without variants
                out[user] = (True, "on", None)
            else:
                out[user] = (True, variant["name"], _payload(variant.get("payload")))
        return out
    finally:
        sdk.destroy()


def node_sdk() -> Path:
    """Where the Node.js SDK is installed (installed once into the cache); skips without npm."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("npm is not installed: cannot install the unleash-client Node.js SDK")
    out = subprocess.run(
        ["bash", str(UNLEASH_DIR / "install_sdk.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])


def node_answers(url: str, users: list[str], **fields: str) -> Answers:
    """What npm's `unleash-client` answers for each user, evaluating locally in Node."""
    contexts = [{"userId": user, "properties": dict(fields)} for user in users]
    out = subprocess.run(
        ["node", str(UNLEASH_DIR / "evaluate.mjs"), str(node_sdk()), f"{url}/api", FLAG],
        input=json.dumps(contexts),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "UNLEASH_CLIENT_TOKEN": CLIENT_TOKEN},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    answers = {}
    for a in json.loads(out.stdout):
        if not a["enabled"]:
            answers[a["userId"]] = (False, "off", None)
        elif not a["variantEnabled"]:  # as in Python: a flag without variants
            answers[a["userId"]] = (True, "on", None)
        else:
            answers[a["userId"]] = (True, a["variant"], _payload(a["payload"]))
    return answers


SDKS: dict[str, Callable[..., Answers]] = {
    "openfeature-ofrep": ofrep_answers,
    "unleash-python": unleash_answers,
    "unleash-node": node_answers,
}


def disagreements(a: Answers, b: Answers) -> list[str]:
    return [u for u in a if a[u] != b[u]]


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_sdks_agree_with_rollbot_before_and_after_an_advance(
    running: Running, clock: ManualClock, sdk: str
) -> None:
    answers = SDKS[sdk]
    bot = running.bot
    bot.rollouts.start(FLAG, None, ALICE)
    clock.advance(timedelta(days=7))
    staff = bot.rollouts.advance(FLAG, BOB).view  # the shipped plan: staff at 100% first
    assert staff.percentage == 0
    for email, on in (("qa@example.com", True), ("someone@elsewhere.org", False)):
        ours = rollbots_answers(bot, USERS[:500], email=email)
        assert {enabled for enabled, _, _ in ours.values()} == {on}
        assert disagreements(ours, answers(running.url, USERS[:500], email=email)) == [], email
    clock.advance(timedelta(days=1))
    assert bot.rollouts.advance(FLAG, BOB).view.percentage == 5
    httpx.post(
        f"{running.url}/flags/{FLAG}",
        json={"variants": VARIANTS},
        headers=WRITE,
    ).raise_for_status()
    assert httpx.get(f"{running.url}/flags/{FLAG}/evaluate", params={"userId": "u"}).json()[
        "variant"
    ] in ("off", "control", "realtime")
    for step in ("5%", "25%"):
        ours = rollbots_answers(running.bot, USERS)
        on = sum(1 for enabled, _, _ in ours.values() if enabled)
        expected = int(step[:-1]) * len(USERS) // 100
        assert abs(on - expected) < len(USERS) * 0.03, (step, on)
        assert {v for e, v, _ in ours.values() if e} == {"control", "realtime"}
        overridden = [ours[u] for u in USERS[::7] if ours[u][0]]
        assert overridden and {v for _, v, _ in overridden} == {"control"}
        assert {p for e, _, p in ours.values() if e} == {
            ("string", "polling"),
            ("json", '{"transport": "ws"}'),
        }
        assert disagreements(ours, answers(running.url, USERS)) == [], step
        if step == "5%":
            clock.advance(timedelta(days=7))
            assert bot.rollouts.advance(FLAG, BOB).view.percentage == 25


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_sdks_agree_on_segment_rollouts(running: Running, sdk: str) -> None:
    answers = SDKS[sdk]
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
        assert disagreements(ours, answers(running.url, users, **fields)) == [], fields
    staff = rollbots_answers(running.bot, users[:50], email="a@example.com")
    assert all(enabled for enabled, _, _ in staff.values())
