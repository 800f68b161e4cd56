"""A/B variants of a flag, sticky per user with Unleash's variant hashing.

A user's variant is found as Unleash's SDKs find it: `target = murmur3_x86_32(
"{group_id}:{user_id}", seed=86028157) % total_weight + 1`, then the first variant whose
cumulative weight reaches the target. Weights in a flag document sum to 100 or to 1000;
hundreds are scaled to thousands (x10) before hashing, so a flag moved to Unleash, whose
weights are out of 1000, keeps every user on the same variant, and rollbot's client API
serves the scaled weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import mmh3
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.domain.constraints import SEGMENT_NAME, SEGMENT_NAME_HINT

VARIANT_SEED = 86028157
WEIGHT_TOTALS = (100, 1000)
# OFREP's `variant` for a flag without variants: whether the user has the feature.
ON, OFF = "on", "off"


class Variant(BaseModel):
    """One arm of an A/B test: a name and its share of the users who have the feature."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    weight: int = Field(ge=0, le=1000)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SEGMENT_NAME.match(value):
            raise ValueError(f"invalid variant name {value!r}: {SEGMENT_NAME_HINT}")
        if value in (ON, OFF, "disabled"):
            raise ValueError(f"{value!r} is reserved (it means the flag's own on/off)")
        return value


def check_variants(variants: Sequence[Variant]) -> None:
    """Raise ValueError unless the names are distinct and the weights sum to 100 or 1000."""
    if not variants:
        return
    names = [v.name for v in variants]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"variant names must differ; repeated: {', '.join(twice)}")
    total = sum(v.weight for v in variants)
    if total not in WEIGHT_TOTALS:
        raise ValueError(f"weights sum to {total}; they must sum to 100 or to 1000")


def unleash_weights(variants: Sequence[Variant]) -> list[int]:
    """The weights out of 1000, as Unleash keeps them."""
    scale = 10 if sum(v.weight for v in variants) == 100 else 1
    return [v.weight * scale for v in variants]


def variant_target(group_id: str, stickiness: str, total: int) -> int:
    """The user's point on the weight line, 1..total (Unleash's `normalizedVariantValue`)."""
    return int(mmh3.hash(f"{group_id}:{stickiness}", VARIANT_SEED, signed=False)) % total + 1


def pick(
    names: Sequence[str], weights: Sequence[int], group_id: str, stickiness: str
) -> str | None:
    """The variant a user with this stickiness value gets; None when every weight is 0."""
    total = sum(weights)
    if total <= 0:
        return None
    target = variant_target(group_id, stickiness, total)
    reached = 0
    for name, weight in zip(names, weights, strict=True):
        reached += weight
        if reached >= target:
            return name
    return None


def variant_for(variants: Sequence[Variant], group_id: str, user_id: str) -> str | None:
    """The variant of a flag document's `variants` for a user; None without variants."""
    if not variants:
        return None
    return pick([v.name for v in variants], unleash_weights(variants), group_id, user_id)
