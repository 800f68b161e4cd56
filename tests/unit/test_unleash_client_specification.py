"""Unleash's client specification (npm `@unleash/client-specification`, the JSON suites every
Unleash SDK runs) against rollbot's own evaluation (bot/domain/evaluation.py).

Each suite's features are written as rollbot flags: a `default`, `userWithId` or
`flexibleRollout` strategy (grouped on the flag's name, sticky on the user id) becomes a
segment of its constraints (plus `userId IN` for userWithId) with the strategy's percentage
in `segment_rollouts`; its variants, with their payloads and overrides, become rollbot
variants (weights as the suite gives them: rollbot's documents want 100 or 1000, Unleash
hashes against whatever they sum to). A test whose feature rollbot cannot express is counted as
unsupported; the suites that are unsupported as a whole are listed in README ("Unleash
client specification"), and `SUITES` below must cover exactly the rest.

Skipped, saying why, only when npm is missing (tests/unleash/install_spec.sh caches the
package outside the clone).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.domain.constraints import Constraint, Context, Segment
from bot.domain.evaluation import evaluate_flag
from bot.domain.flag import FlagDocument
from bot.domain.variants import Variant, choose

INSTALL = Path(__file__).resolve().parent.parent / "unleash" / "install_spec.sh"
# Suites rollbot runs; every other suite of the package is listed unsupported in README.
SUITES = {
    "01-simple-examples.json",
    "02-user-with-id-strategy.json",
    "08-variants.json",
    "09-strategy-constraints.json",
    "10-flexible-rollout-strategy.json",
    "11-strategy-constraints-edge-cases.json",
    "13-constraint-operators.json",
    "14-constraint-semver-operators.json",
    "15-global-constraints.json",
    "18-utf8-flag-names.json",
}
NOW = datetime(2026, 12, 1, tzinfo=UTC)


class Unsupported(Exception):
    """The feature uses something rollbot's flags cannot express."""


def suites_dir() -> Path:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: cannot install @unleash/client-specification")
    out = subprocess.run(
        ["bash", str(INSTALL)], capture_output=True, text=True, timeout=300, check=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def specs() -> dict[str, Any]:
    folder = suites_dir()
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("[0-9]*.json")}


def as_rollbot(
    feature: dict[str, Any], global_segments: dict[int, Any]
) -> tuple[FlagDocument, dict[str, Segment]]:
    """The feature as a rollbot flag document and the segments it needs."""
    if feature.get("dependencies"):
        raise Unsupported("dependent features")
    segments: dict[str, Segment] = {}
    rollouts: dict[str, int] = {}
    strategies = feature.get("strategies") or []
    if not strategies:
        strategies = [{"name": "default", "parameters": {}}]  # no strategy: on for everyone
    for i, strategy in enumerate(strategies):
        name, params = strategy["name"], strategy.get("parameters") or {}
        constraints = list(strategy.get("constraints") or [])
        if strategy.get("variants"):
            raise Unsupported("strategy variants")
        if any(s not in global_segments for s in strategy.get("segments") or []):
            continue  # a missing segment never matches: the strategy is never on
        for s in strategy.get("segments") or []:
            constraints += global_segments[s]
        if name == "default":
            pct = 100
        elif name == "userWithId":
            ids = [u.strip() for u in params.get("userIds", "").split(",") if u.strip()]
            constraints.append({"contextName": "userId", "operator": "IN", "values": ids})
            pct = 100
        elif name == "flexibleRollout":
            if params.get("stickiness", "default") not in ("default", "userId"):
                raise Unsupported("custom stickiness")
            if params.get("groupId", feature["name"]) != feature["name"]:
                raise Unsupported("a group id other than the flag's name")
            pct = int(params["rollout"])
        else:
            raise Unsupported(f"strategy {name}")
        try:
            segments[f"s{i}"] = Segment(
                constraints=[Constraint.model_validate(c) for c in constraints]
            )
        except ValidationError as exc:
            raise Unsupported(
                f"a constraint rollbot refuses in config: {exc.errors()[0]['msg']}"
            ) from None
        rollouts[f"s{i}"] = pct
    for variant in feature.get("variants") or []:
        if variant.get("stickiness", "default") != "default":
            raise Unsupported("custom variant stickiness")
    doc = FlagDocument(enabled=feature["enabled"], segment_rollouts=rollouts)
    return doc, segments


def as_variant(raw: dict[str, Any]) -> Variant:
    """A suite's variant as a rollbot variant: name, weight, payload and overrides."""
    fields = ("name", "weight", "payload", "overrides")
    return Variant.model_validate({k: raw[k] for k in fields if raw.get(k) is not None})


def _partial(feature: dict[str, Any]) -> bool:
    """True when a strategy rolls out to part of the users (the answer needs a bucket)."""
    return any(
        s["name"] == "flexibleRollout" and 0 < int(s["parameters"]["rollout"]) < 100
        for s in feature.get("strategies") or []
    )


def context_of(raw: dict[str, Any]) -> Context:
    fields = {k: v for k, v in raw.items() if k not in ("userId", "properties")}
    fields.update(raw.get("properties") or {})
    fields = {k: v for k, v in fields.items() if v is not None}
    return Context(raw.get("userId"), fields)


def run_suite(spec: dict[str, Any]) -> tuple[int, list[str], list[str]]:
    """(passed, failures, unsupported) of one suite."""
    state = spec["state"]
    features = {f["name"]: f for f in state.get("features", [])}
    global_segments = {s["id"]: s["constraints"] for s in state.get("segments", [])}
    passed, failures, unsupported = 0, [], []
    for test in spec.get("tests", []):
        feature = features.get(test["toggleName"])
        context = context_of(test["context"])
        try:
            if feature is not None and context.user_id is None and _partial(feature):
                raise Unsupported("bucketing without a user id (rollbot buckets only the user id)")
            if feature is None:
                got = False
            else:
                doc, segments = as_rollbot(feature, global_segments)
                got = evaluate_flag(doc, feature["name"], context, segments, NOW).enabled
        except Unsupported as why:
            unsupported.append(f"{test['description']}: {why}")
            continue
        if got == test["expectedResult"]:
            passed += 1
        else:
            failures.append(test["description"])
    for test in spec.get("variantTests", []):
        feature = features.get(test["toggleName"])
        expected = test["expectedResult"]
        context = context_of(test["context"])
        try:
            name, payload = "disabled", None
            if feature is not None:
                doc, segments = as_rollbot(feature, global_segments)
                on = evaluate_flag(doc, feature["name"], context, segments, NOW).enabled
                variants = [as_variant(v) for v in feature.get("variants") or []]
                if on and variants:
                    weights = [v.weight for v in variants]
                    chosen = choose(variants, weights, feature["name"], context)
                    if chosen is None and context.user_id is None:
                        raise Unsupported("variant stickiness without a user id")
                    if chosen is not None:
                        name = chosen.name
                        payload = None if chosen.payload is None else chosen.payload.model_dump()
        except Unsupported as why:
            unsupported.append(f"{test['description']}: {why}")
            continue
        if (name, payload) == (expected["name"], expected.get("payload")):
            passed += 1
        else:
            failures.append(test["description"])
    return passed, failures, unsupported


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_suite_passes(specs: dict[str, Any], suite: str) -> None:
    passed, failures, _unsupported = run_suite(specs[suite])
    assert failures == []
    assert passed > 0


def test_the_readme_lists_the_suites_rollbot_does_not_run(specs: dict[str, Any]) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Unleash client specification", 1)[1].split("\n#", 1)[0]
    for suite in sorted(set(specs) - SUITES):
        assert suite.removesuffix(".json") in section, suite


def test_variant_payloads_and_overrides_are_checked(specs: dict[str, Any]) -> None:
    """08-variants' override and payload tests run (not counted as unsupported)."""
    passed, failures, unsupported = run_suite(specs["08-variants.json"])
    assert failures == []
    assert not [u for u in unsupported if "override" in u or "payload" in u.lower()]
    tests = specs["08-variants.json"]["variantTests"]
    assert any("override" in t["toggleName"] for t in tests)
    assert any(t["expectedResult"].get("payload", {}).get("type") == "number" for t in tests)
    assert passed >= len(tests) - len(unsupported)
