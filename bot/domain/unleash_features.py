"""rollbot's flags in Unleash's client API format (v2), for Unleash SDKs to evaluate locally.

Each flag becomes flexibleRollout strategies grouped on the flag key, so an SDK's bucket is
rollbot's bucket (bot/domain/bucketing.py), and Unleash's "any strategy on" is rollbot's
"the largest percentage that applies" (bot/domain/evaluation.py):

- `rollout_percentage`: one strategy without constraints; with `user_segments`, one strategy
  per eligible segment (its constraints from config) plus one `segment IN user_segments`
  for applications that name their segment in the `segment` context field;
- each `segment_rollouts` entry: a strategy with the segment's constraints, and one with
  `segment IN [name]`;
- `variants`: the feature's variants, weights out of 1000, sticky on the user id, with their
  payloads and overrides in Unleash's shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.constraints import Constraint, Segment
from bot.domain.flag import FlagDocument
from bot.domain.variants import Variant, unleash_weights

# The context field an application sets to name its segments outright.
SEGMENT_FIELD = "segment"

Json = dict[str, Any]


def _strategy(key: str, pct: int, constraints: list[Constraint], title: str) -> Json:
    return {
        "name": "flexibleRollout",
        "title": title,
        "disabled": False,
        "parameters": {"rollout": str(pct), "stickiness": "default", "groupId": key},
        "constraints": [c.unleash() for c in constraints],
        "variants": [],
    }


def _named(names: list[str]) -> Constraint:
    return Constraint(context_name=SEGMENT_FIELD, operator="IN", values=names)


def strategies(key: str, doc: FlagDocument, segments: Mapping[str, Segment]) -> list[Json]:
    """The flexibleRollout strategies that express the document."""
    out: list[Json] = []
    if not doc.user_segments:
        out.append(_strategy(key, doc.rollout_percentage, [], "everyone"))
    else:
        for name in doc.user_segments:
            if name in segments:
                out.append(_strategy(key, doc.rollout_percentage, segments[name].constraints, name))
        named = _named(list(doc.user_segments))
        out.append(_strategy(key, doc.rollout_percentage, [named], "segments named"))
    for name, pct in doc.segment_rollouts.items():
        if name in segments:
            out.append(_strategy(key, pct, segments[name].constraints, f"segment {name}"))
        out.append(_strategy(key, pct, [_named([name])], f"segment {name} named"))
    return out


def _variant(variant: Variant, weight: int) -> Json:
    out: Json = {
        "name": variant.name,
        "weight": weight,
        "weightType": "variable",
        "stickiness": "default",
        "overrides": [o.model_dump() for o in variant.overrides],
    }
    if variant.payload is not None:
        out["payload"] = variant.payload.model_dump()
    return out


def feature(key: str, doc: FlagDocument, segments: Mapping[str, Segment]) -> Json:
    """One flag as an Unleash feature of the client API."""
    weights = unleash_weights(doc.variants)
    return {
        "name": key,
        "type": "release",
        "description": "",
        "project": "default",
        "enabled": doc.enabled,
        "stale": False,
        "impressionData": False,
        "strategies": strategies(key, doc, segments),
        "variants": [_variant(v, w) for v, w in zip(doc.variants, weights, strict=True)],
        "dependencies": [],
    }


def features(docs: Mapping[str, FlagDocument], segments: Mapping[str, Segment]) -> Json:
    """Every flag, as `GET /api/client/features` answers (format version 2)."""
    return {
        "version": 2,
        "features": [feature(key, docs[key], segments) for key in sorted(docs)],
        "query": {},
        "segments": [],
    }
