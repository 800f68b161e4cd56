"""The flag document (the seed plan's Appendix A) and the rules for changing it."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.domain.constraints import SEGMENT_NAME, SEGMENT_NAME_HINT
from bot.domain.variants import Variant, check_variants

# What Unleash accepts in a feature name, so flags carry over between the two unchanged.
FLAG_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{1,100}$")
FLAG_KEY_HINT = "use 1-100 letters, digits, '.', '_', '-' or '~' (as Unleash does)"


def is_valid_flag_key(key: str) -> bool:
    """True when `key` is a name Unleash would accept for a feature flag."""
    return bool(FLAG_KEY_PATTERN.match(key)) and key not in {".", ".."}


def checked_flag_key(key: str) -> str:
    """`key` itself when it is a valid flag key, else a ValueError that gives the hint."""
    if not is_valid_flag_key(key):
        raise ValueError(f"{key!r} is not a valid flag key: {FLAG_KEY_HINT}")
    return key


# A flag key a plan or a runbook step names, checked when the file is read.
FlagKey = Annotated[str, AfterValidator(checked_flag_key)]


def check_segment_rollouts(rollouts: dict[str, int]) -> dict[str, int]:
    """Raise ValueError naming the segment whose name or percentage is wrong."""
    for name, pct in rollouts.items():
        if not SEGMENT_NAME.match(name):
            raise ValueError(f"invalid segment name {name!r}: {SEGMENT_NAME_HINT}")
        if isinstance(pct, bool) or not isinstance(pct, int) or not 0 <= pct <= 100:
            raise ValueError(f"{name}: the percentage must be a whole number from 0 to 100")
    return rollouts


class FlagDocument(BaseModel):
    """A feature flag as served at GET /flags/{key}.

    `rollout_percentage` applies to everyone (to the `user_segments` when those are named);
    `segment_rollouts` gives segments defined in config a percentage of their own: a user
    has the feature when any percentage that applies to them lets them in. `variants` split
    the users who have the feature into A/B arms.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    rollout_percentage: int = Field(default=0, ge=0, le=100)
    user_segments: list[str] = Field(default_factory=list)
    fallback_enabled: bool = True
    monitoring_enabled: bool = True
    segment_rollouts: dict[str, int] = Field(default_factory=dict)
    variants: list[Variant] = Field(default_factory=list)

    _rollouts = field_validator("segment_rollouts")(check_segment_rollouts)

    @field_validator("variants")
    @classmethod
    def _variants(cls, value: list[Variant]) -> list[Variant]:
        check_variants(value)
        return value

    def segment_names(self) -> set[str]:
        """Every segment the document names (its rollouts' and its eligible segments)."""
        return set(self.segment_rollouts) | set(self.user_segments)


class FlagChange(BaseModel):
    """A partial update: any subset of the document's fields, strictly typed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool | None = None
    rollout_percentage: int | None = Field(default=None, ge=0, le=100)
    user_segments: list[str] | None = None
    fallback_enabled: bool | None = None
    monitoring_enabled: bool | None = None
    segment_rollouts: dict[str, int] | None = None
    variants: list[Variant] | None = None

    @field_validator("segment_rollouts")
    @classmethod
    def _rollouts(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        return None if value is None else check_segment_rollouts(value)

    @field_validator("variants")
    @classmethod
    def _variants(cls, value: list[Variant] | None) -> list[Variant] | None:
        if value is not None:
            check_variants(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = [k for k, v in data.items() if v is None and k in cls.model_fields]
            if nulls:
                raise ValueError(
                    f"{', '.join(nulls)}: null is not a value; leave the field out to keep it"
                )
        return data

    def fields(self) -> dict[str, Any]:
        """The fields this change sets, without the ones it leaves alone."""
        return self.model_dump(exclude_unset=True, exclude_none=True)

    def segment_names(self) -> set[str]:
        """The segments this change names."""
        return set(self.segment_rollouts or {}) | set(self.user_segments or [])


def parse_flag_change(body: Any) -> FlagChange:
    """Validate a JSON body as a partial flag document.

    Raises ValueError whose message names each wrong field and why.
    """
    if not isinstance(body, dict):
        raise ValueError('body: expected a JSON object with flag fields, e.g. {"enabled": false}')
    try:
        return FlagChange.model_validate(body)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "body"
            if err["type"] == "extra_forbidden" and len(err["loc"]) > 1:
                problems.append(f"{field}: unknown field")
            elif err["type"] == "extra_forbidden":
                allowed = ", ".join(FlagDocument.model_fields)
                problems.append(f"{field}: unknown field (allowed: {allowed})")
            else:
                problems.append(f"{field}: {err['msg'].removeprefix('Value error, ')}")
        raise ValueError("; ".join(problems)) from None


def apply_change(doc: FlagDocument, change: FlagChange) -> FlagDocument:
    """Return the document with the change applied (validated again as a whole)."""
    return FlagDocument.model_validate({**doc.model_dump(), **change.fields()})
