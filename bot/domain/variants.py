"""A/B variants of a flag, sticky per user with Unleash's variant hashing.

A user's variant is found as Unleash's SDKs find it: `target = murmur3_x86_32(
"{group_id}:{user_id}", seed=86028157) % total_weight + 1`, then the first variant whose
cumulative weight reaches the target. Weights in a flag document sum to 100 or to 1000;
hundreds are scaled to thousands (x10) before hashing, so a flag moved to Unleash, whose
weights are out of 1000, keeps every user on the same variant, and rollbot's client API
serves the scaled weights.

A variant may carry a `payload` (what the application is handed along with the name, typed
`string`, `json`, `number` or `csv` and always held as text, as Unleash keeps it) and
`overrides`: users named by a context field's values get that variant whatever the hashing
says (the first variant whose override matches wins, as in Unleash's SDKs).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, Literal

import mmh3
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from bot.domain.constraints import SEGMENT_NAME, SEGMENT_NAME_HINT, Context

VARIANT_SEED = 86028157
WEIGHT_TOTALS = (100, 1000)
# OFREP's `variant` for a flag without variants: whether the user has the feature.
ON, OFF = "on", "off"


PayloadType = Literal["string", "json", "number", "csv"]
# Payloads travel in every SDK answer and every flag state: keep them small.
PAYLOAD_MAX = 8192


class Payload(BaseModel):
    """What a variant hands the application: Unleash's `{type, value}`, the value as text."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: PayloadType
    value: str = Field(max_length=PAYLOAD_MAX)

    @field_validator("value")
    @classmethod
    def _value_fits_type(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("type")  # absent when the type itself was wrong
        if kind == "json":
            try:
                json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not valid JSON, as type json needs ({exc})") from None
        elif kind == "number":
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a number, as type number needs") from None
            if not math.isfinite(number):
                raise ValueError(f"{value!r} is not a finite number, as type number needs")
        return value


class Override(BaseModel):
    """Users whose context field `contextName` is one of `values` get this variant."""

    model_config = ConfigDict(
        extra="forbid", strict=True, validate_by_name=True, serialize_by_alias=True
    )

    context_name: str = Field(alias="contextName", min_length=1, max_length=100)
    values: list[str] = Field(min_length=1)

    def matches(self, context: Context) -> bool:
        """True when the context's field is one of the values (compared as text)."""
        value = context.value(self.context_name)
        return value is not None and value in self.values


class Variant(BaseModel):
    """One arm of an A/B test: a name, its share of the users who have the feature, and
    optionally a payload and overrides."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    weight: int = Field(ge=0, le=1000)
    payload: Payload | None = None
    overrides: list[Override] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _without_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A variant without payload or overrides reads as it did before they existed.
        out: dict[str, Any] = handler(self)
        if out.get("payload") is None:
            out.pop("payload", None)
        if not out.get("overrides"):
            out.pop("overrides", None)
        return out

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


def choose(
    variants: Sequence[Variant], weights: Sequence[int], group_id: str, context: Context
) -> Variant | None:
    """The variant for a user who has the feature: the first whose override matches, else
    the weighted pick sticky on the user id. None without variants, without a user id (and
    no override), or when every weight is 0."""
    for variant in variants:
        if any(o.matches(context) for o in variant.overrides):
            return variant
    if not variants or context.user_id is None:
        return None
    name = pick([v.name for v in variants], weights, group_id, context.user_id)
    return next((v for v in variants if v.name == name), None)


def variant_for(variants: Sequence[Variant], group_id: str, context: Context) -> Variant | None:
    """The variant of a flag document's `variants` for a user; None without variants."""
    return choose(variants, unleash_weights(variants), group_id, context)
