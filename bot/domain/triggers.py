"""Metric conditions: rollback triggers and success criteria, and how observations count.

Both are written the same way in a plan: a query, a comparison and a threshold, how many
consecutive evaluations must agree, and what a missing value means. A *trigger* breaches when
its comparison is true (error rate > 1%); a *criterion* is met when its comparison is true
(connection success > 99%). Pure rules: values and times come in, verdicts go out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.message import Message, Strong


class MissingData(StrEnum):
    """What a query that answers nothing (or fails) means.

    `breach` counts it against the rollout (a trigger breaches, a criterion is unmet);
    `ignore` leaves the counter as it was (a trigger stays quiet, a criterion counts as met);
    `hold` keeps the rollout at its step without rolling back (automatic advances wait).
    """

    BREACH = "breach"
    IGNORE = "ignore"
    HOLD = "hold"


COMPARISONS = (">", ">=", "<", "<=")
VARIANT_PLACEHOLDER = "{variant}"
VARIANT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$"


class VariantComparison(BaseModel):
    """Compare two A/B variants of the flag: the condition's value is the query for
    `variant` minus the query for `baseline` (`{variant}` in the query names each)."""

    model_config = ConfigDict(extra="forbid")

    variant: str = Field(pattern=VARIANT_NAME)
    baseline: str = Field(pattern=VARIANT_NAME)

    @model_validator(mode="after")
    def _two_variants(self) -> VariantComparison:
        if self.variant == self.baseline:
            raise ValueError("variant and baseline must be two different variants")
        return self

METRIC_PROVIDERS = ("prometheus", "http_json", "sql")
"""The metrics providers a condition or probe may name with `provider:` (default: the one
`metrics.provider` configures)."""

MetricProviderName = Literal["prometheus", "http_json", "sql"]


@dataclass(frozen=True)
class MetricSource:
    """Where a query is answered: a provider by name (None: the configured default), and for
    `sql` a database named in the config (None: `metrics.sql.database`)."""

    provider: str | None = None
    database: str | None = None

    def describe(self) -> str:
        """For messages: `sql (database realtime)`, `prometheus`, `the default provider`."""
        if self.provider is None:
            return "the default metrics provider"
        if self.database:
            return f"{self.provider} (database {self.database})"
        return self.provider


def source_problem(provider: str | None, database: str | None) -> str | None:
    """Why `provider`/`database` cannot go together, or None."""
    if database is not None and provider != "sql":
        return "database: only an sql query runs against a database; add provider: sql"
    return None


class Condition(BaseModel):
    """A query compared with a threshold (the common form of triggers and criteria)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str | None = None
    query: str = Field(min_length=1)
    comparison: str
    threshold: float
    consecutive: int = Field(default=2, ge=1, le=100)
    missing_data: MissingData = MissingData.HOLD
    unit: str = ""
    # Which provider answers the query (default: `metrics.provider`), and for sql the database.
    provider: MetricProviderName | None = None
    database: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    # The query answers one value per label (a row per variant or segment, a series per
    # label value): each is judged, and the worst decides (see `decisive`).
    per: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _source(self) -> Condition:
        problem = source_problem(self.provider, self.database)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def source(self) -> MetricSource:
        """Where this condition's query is answered."""
        return MetricSource(self.provider, self.database)

    # A/B: measure `variant` against `baseline` instead of one value (e.g. realtime's error
    # rate no worse than control's + 0.1 points: comparison "<=", threshold 0.001).
    compare: VariantComparison | None = None

    @model_validator(mode="after")
    def _placeholder_fits(self) -> Condition:
        has = VARIANT_PLACEHOLDER in self.query
        if self.compare is not None and not has:
            raise ValueError(f"compare needs {VARIANT_PLACEHOLDER} in the query")
        if self.compare is None and has:
            raise ValueError(
                f"{VARIANT_PLACEHOLDER} in the query needs compare: (variant, baseline)"
            )
        return self

    def queries(self) -> list[str]:
        """The queries to run: one, or the variant's then the baseline's."""
        if self.compare is None:
            return [self.query]
        return [
            self.query.replace(VARIANT_PLACEHOLDER, name)
            for name in (self.compare.variant, self.compare.baseline)
        ]

    @field_validator("comparison")
    @classmethod
    def _known_comparison(cls, value: str) -> str:
        if value not in COMPARISONS:
            raise ValueError(f"{value!r} is not a comparison; use one of {', '.join(COMPARISONS)}")
        return value

    def compares_true(self, value: float) -> bool:
        """True when `value <comparison> threshold`."""
        if self.comparison == ">":
            return value > self.threshold
        if self.comparison == ">=":
            return value >= self.threshold
        if self.comparison == "<":
            return value < self.threshold
        return value <= self.threshold

    def rule(self) -> str:
        """The comparison as people read it, e.g. `> 0.01`, or for variants
        `realtime - control <= 0.001`."""
        rule = f"{self.comparison} {format_value(self.threshold, self.unit)}"
        if self.compare is not None:
            return f"{self.compare.variant} - {self.compare.baseline} {rule}"
        return rule

    def label(self) -> str:
        """The name and its description, for messages."""
        return f"{self.name} ({self.description})" if self.description else self.name


class Trigger(Condition):
    """Rolls the rollout back when its comparison is true `consecutive` times in a row.

    `runbook` names the plan's runbook it runs (default: the full rollback); a partial one
    (`runbooks.<name>.partial: true`) leaves the rollout running, paused."""

    runbook: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]*$")


class Criterion(Condition):
    """Must be true for the last `consecutive` evaluations before a step advances by itself."""


def format_value(value: float | None, unit: str = "") -> str:
    """A measured value for people: `0.0123`, `512 ms`; `no data` for None."""
    if value is None:
        return "no data"
    text = f"{value:.4g}"
    return f"{text} {unit}".strip() if unit else text


class Verdict(StrEnum):
    """What one observation of a condition says."""

    BAD = "bad"  # trigger breached / criterion unmet
    GOOD = "good"  # trigger quiet / criterion met
    SKIP = "skip"  # no data, policy ignore: changes nothing
    HOLD = "hold"  # no data, policy hold: rollout waits, counters unchanged


def judge_trigger(trigger: Trigger, value: float | None) -> Verdict:
    """A trigger observation: BAD when it breaches (or no data counts as a breach)."""
    if value is None or math.isnan(value):
        return {
            MissingData.BREACH: Verdict.BAD,
            MissingData.IGNORE: Verdict.SKIP,
            MissingData.HOLD: Verdict.HOLD,
        }[trigger.missing_data]
    return Verdict.BAD if trigger.compares_true(value) else Verdict.GOOD


def judge_criterion(criterion: Criterion, value: float | None) -> Verdict:
    """A criterion observation: GOOD when met (or no data is ignored)."""
    if value is None or math.isnan(value):
        return {
            MissingData.BREACH: Verdict.BAD,
            MissingData.IGNORE: Verdict.GOOD,
            MissingData.HOLD: Verdict.HOLD,
        }[criterion.missing_data]
    return Verdict.GOOD if criterion.compares_true(value) else Verdict.BAD


@dataclass(frozen=True)
class Streak:
    """How a condition has looked lately: consecutive bad and good observations."""

    bad: int = 0
    good: int = 0
    last: Verdict | None = None


def observe(streak: Streak, verdict: Verdict) -> Streak:
    """The streak after one more observation.

    A BAD resets the good run and extends the bad run, and vice versa. SKIP leaves both runs
    as they were (no data is not evidence). HOLD is remembered as the last verdict but does
    not count, so a trigger with missing data neither fires nor forgets earlier breaches.
    """
    if verdict is Verdict.BAD:
        return Streak(bad=streak.bad + 1, good=0, last=verdict)
    if verdict is Verdict.GOOD:
        return Streak(bad=0, good=streak.good + 1, last=verdict)
    return Streak(bad=streak.bad, good=streak.good, last=verdict)


def fires(trigger: Trigger, streak: Streak) -> bool:
    """True when the trigger has breached its number of consecutive evaluations."""
    return streak.last is Verdict.BAD and streak.bad >= trigger.consecutive


def criterion_met(criterion: Criterion, streak: Streak) -> bool:
    """True when the criterion held over its window (its last `consecutive` observations)."""
    return streak.last is Verdict.GOOD and streak.good >= criterion.consecutive


@dataclass(frozen=True)
class Reading:
    """One stored observation of a condition, as a hold or a card shows it."""

    name: str
    value: float | None
    streak: Streak
    at: datetime | None
    error: str | None = None


def criterion_hold_reason(criterion: Criterion, reading: Reading | None) -> Message | None:
    """Why `criterion` holds the step, or None when it is met."""
    if reading is None or reading.at is None:
        return Message("success criterion ", Strong(criterion.name), " has not been measured yet")
    if criterion_met(criterion, reading.streak):
        return None
    measured = format_value(reading.value, criterion.unit)
    if reading.error:
        measured = f"no data ({reading.error})"
    return Message(
        "success criterion ",
        Strong(criterion.label()),
        f" is not met: measured {measured}, "
        f"needs {criterion.rule()} for {criterion.consecutive} evaluations in a row "
        f"({reading.streak.good} so far)",
    )


def _is_bad(condition: Condition, value: float, trigger: bool) -> bool:
    """A trigger's value is bad when it breaches; a criterion's when it is unmet."""
    return condition.compares_true(value) if trigger else not condition.compares_true(value)


def decisive(
    condition: Condition, values: dict[str, float | None], trigger: bool
) -> tuple[str | None, float | None]:
    """The label and value that decide a labelled condition (`per:`): the worst bad value
    (the furthest past the threshold), else a label without data, else the one nearest the
    threshold. No labels at all is no data."""
    if not values:
        return None, None
    bad = [
        (label, v)
        for label, v in values.items()
        if v is not None and not math.isnan(v) and _is_bad(condition, v, trigger)
    ]
    if bad:
        return max(bad, key=lambda lv: abs(lv[1] - condition.threshold))
    missing = [label for label, v in values.items() if v is None or math.isnan(v)]
    if missing:
        return missing[0], None
    label, value = min(
        ((label, v) for label, v in values.items() if v is not None),
        key=lambda lv: abs(lv[1] - condition.threshold),
    )
    return label, value
