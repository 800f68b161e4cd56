"""The flag document (the seed plan's Appendix A) and the rules for changing it."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# What Unleash accepts in a feature name, so flags carry over between the two unchanged.
FLAG_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{1,100}$")
FLAG_KEY_HINT = "use 1-100 letters, digits, '.', '_', '-' or '~' (as Unleash does)"


def is_valid_flag_key(key: str) -> bool:
    """True when `key` is a name Unleash would accept for a feature flag."""
    return bool(FLAG_KEY_PATTERN.match(key)) and key not in {".", ".."}


class FlagDocument(BaseModel):
    """A feature flag as served at GET /flags/{key}."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    rollout_percentage: int = Field(default=0, ge=0, le=100)
    user_segments: list[str] = Field(default_factory=list)
    fallback_enabled: bool = True
    monitoring_enabled: bool = True


class FlagChange(BaseModel):
    """A partial update: any subset of the document's fields, strictly typed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool | None = None
    rollout_percentage: int | None = Field(default=None, ge=0, le=100)
    user_segments: list[str] | None = None
    fallback_enabled: bool | None = None
    monitoring_enabled: bool | None = None

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
            if err["type"] == "extra_forbidden":
                allowed = ", ".join(FlagDocument.model_fields)
                problems.append(f"{field}: unknown field (allowed: {allowed})")
            else:
                problems.append(f"{field}: {err['msg']}")
        raise ValueError("; ".join(problems)) from None


def apply_change(doc: FlagDocument, change: FlagChange) -> FlagDocument:
    """Return the document with the change applied."""
    return doc.model_copy(update=change.fields())
