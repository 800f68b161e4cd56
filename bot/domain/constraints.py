"""Constraints on an evaluation context, and segments made of them, as Unleash defines them.

A constraint names a context field, an operator and the values to compare with; a segment is
a named list of constraints that all hold. The JSON shape is Unleash's own (`contextName`,
`operator`, `values` or `value`, `caseInsensitive`, `inverted`), so a segment can be pasted
between rollbot's config and Unleash, and rollbot's client API serves it unchanged. The
semantics follow Unleash's client specification (its JSON suites run in the tests): a field
missing from the context fails every operator except NOT_IN, `inverted` negates the result,
an operator rollbot does not know never matches.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import semver
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LIST_OPERATORS = ("IN", "NOT_IN")
STRING_OPERATORS = ("STR_ENDS_WITH", "STR_STARTS_WITH", "STR_CONTAINS")
NUMBER_OPERATORS = ("NUM_EQ", "NUM_GT", "NUM_GTE", "NUM_LT", "NUM_LTE")
DATE_OPERATORS = ("DATE_AFTER", "DATE_BEFORE")
SEMVER_OPERATORS = ("SEMVER_EQ", "SEMVER_GT", "SEMVER_GTE", "SEMVER_LT", "SEMVER_LTE")
# Operators taking a list of values; the others compare with one `value`.
MULTI_VALUE = LIST_OPERATORS + STRING_OPERATORS
OPERATORS = MULTI_VALUE + NUMBER_OPERATORS + DATE_OPERATORS + SEMVER_OPERATORS

SEGMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$")
SEGMENT_NAME_HINT = (
    "use 1-100 letters, digits, '.', '_', '-' or '~', starting with a letter or digit"
)


@dataclass(frozen=True)
class Context:
    """What an application tells about the user being evaluated.

    `user_id` is the targeting key (OFREP's `targetingKey`, Unleash's `userId`); `fields` are
    the other context fields, flat (Unleash's `properties` merged in). `segments` are segment
    names the caller states outright (the `segment=` parameters of /flags/{key}/evaluate).
    """

    user_id: str | None
    fields: Mapping[str, object] = field(default_factory=dict)
    segments: tuple[str, ...] = ()

    def value(self, name: str) -> str | None:
        """The field as text (how Unleash compares it); None when absent or not a scalar."""
        if name == "userId" and self.user_id is not None:
            return self.user_id
        raw = self.fields.get(name)
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, int | float):
            return str(raw)
        return raw if isinstance(raw, str) else None


class Constraint(BaseModel):
    """One condition on one context field, in Unleash's JSON shape."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    context_name: str = Field(alias="contextName", min_length=1)
    operator: str
    values: list[str] = Field(default_factory=list)
    value: str | None = None
    case_insensitive: bool = Field(default=False, alias="caseInsensitive")
    inverted: bool = False

    @field_validator("operator")
    @classmethod
    def _known_operator(cls, op: str) -> str:
        if op not in OPERATORS:
            raise ValueError(f"unknown operator {op!r}; operators: {', '.join(OPERATORS)}")
        return op

    @model_validator(mode="after")
    def _values_fit_operator(self) -> Constraint:
        if self.operator in MULTI_VALUE:
            if self.value is not None and not self.values:
                raise ValueError(f"{self.operator} takes `values` (a list), not `value`")
        elif self.value is None:
            raise ValueError(f"{self.operator} takes one `value`")
        if self.operator in NUMBER_OPERATORS and _number(self.value) is None:
            raise ValueError(f"{self.operator}: value {self.value!r} is not a number")
        if self.operator in DATE_OPERATORS and _date(self.value) is None:
            raise ValueError(f"{self.operator}: value {self.value!r} is not an ISO 8601 date-time")
        if self.operator in SEMVER_OPERATORS and _semver(self.value) is None:
            raise ValueError(
                f"{self.operator}: value {self.value!r} is not a semantic version (1.2.3)"
            )
        return self

    def unleash(self) -> dict[str, object]:
        """The constraint as Unleash's client API writes it."""
        out: dict[str, object] = {
            "contextName": self.context_name,
            "operator": self.operator,
            "caseInsensitive": self.case_insensitive,
            "inverted": self.inverted,
        }
        if self.operator in MULTI_VALUE:
            out["values"] = list(self.values)
        else:
            out["value"] = self.value
        return out


class Segment(BaseModel):
    """Users described by constraints that must all hold (no constraints: everyone)."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    constraints: list[Constraint] = Field(default_factory=list)

    def matches(self, context: Context, now: datetime) -> bool:
        """True when every constraint holds for this context."""
        return all(matches(c, context, now) for c in self.constraints)


def matches(constraint: Constraint, context: Context, now: datetime) -> bool:
    """Whether one constraint holds for the context at `now` (DATE_* compare `currentTime`,
    the context's own when it gives one, else now)."""
    return _holds(constraint, context, now) != constraint.inverted


def _holds(c: Constraint, context: Context, now: datetime) -> bool:
    op = c.operator
    if op in DATE_OPERATORS:
        given = context.value(c.context_name)
        at = _date(given) if given is not None else now
        limit = _date(c.value)
        if at is None or limit is None:
            return False
        return at > limit if op == "DATE_AFTER" else at < limit
    actual = context.value(c.context_name)
    if op == "IN":
        return actual is not None and actual in c.values
    if op == "NOT_IN":
        return actual is None or actual not in c.values
    if actual is None:
        return False
    if op in STRING_OPERATORS:
        values = c.values
        if c.case_insensitive:
            actual, values = actual.lower(), [v.lower() for v in values]
        test = {
            "STR_ENDS_WITH": actual.endswith,
            "STR_STARTS_WITH": actual.startswith,
            "STR_CONTAINS": actual.__contains__,
        }[op]
        return any(test(v) for v in values)
    if op in NUMBER_OPERATORS:
        return _compare(op[4:], _number(actual), _number(c.value))
    if op in SEMVER_OPERATORS:
        return _compare(op[7:], _semver(actual), _semver(c.value))
    return False


_COMPARISONS: dict[str, Any] = {
    "EQ": operator.eq,
    "GT": operator.gt,
    "GTE": operator.ge,
    "LT": operator.lt,
    "LTE": operator.le,
}


def _compare(kind: str, left: Any, right: Any) -> bool:
    # Numbers with numbers, versions with versions; an unreadable side never matches.
    if left is None or right is None:
        return False
    return bool(_COMPARISONS[kind](left, right))


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _date(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    # A date-time without an offset is UTC, as Unleash reads it.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _semver(text: str | None) -> semver.Version | None:
    if text is None:
        return None
    try:
        return semver.Version.parse(text)
    except ValueError:
        return None
