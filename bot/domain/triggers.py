"""Metric conditions: rollback triggers and success criteria, and how observations count.

Both are written the same way in a plan: a query, a comparison and a threshold, how many
consecutive evaluations must agree, and what a missing value means. A *trigger* breaches when
its comparison is true (error rate > 1%); a *criterion* is met when its comparison is true
(connection success > 99%). Pure rules: values and times come in, verdicts go out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.durations import parse_duration
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


MetricProviderName = Literal["prometheus", "http_json", "sql"]
"""The metrics providers a condition or probe may name with `provider:` (default: the one
`metrics.provider` configures)."""

MetricDatabaseName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
"""A database of the config a `provider: sql` condition or probe may name with `database:`
(default: `metrics.sql.database`)."""


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


class SourceFields(Protocol):
    """What names a metric source: the `provider` and `database` fields of a condition or a
    metric probe (each declares them as `MetricProviderName | None` and
    `MetricDatabaseName | None`)."""

    @property
    def provider(self) -> str | None: ...

    @property
    def database(self) -> str | None: ...


Sourced = TypeVar("Sourced", bound=SourceFields)


def source_fits(model: Sourced) -> Sourced:
    """A model's after-validator: its `provider` and `database` can go together (a database
    only for sql), or ValueError saying why not."""
    if model.database is not None and model.provider != "sql":
        raise ValueError("database: only an sql query runs against a database; add provider: sql")
    return model


def source_of(model: SourceFields) -> MetricSource:
    """Where the query of a condition or a metric probe is answered."""
    return MetricSource(model.provider, model.database)


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
    database: MetricDatabaseName | None = None
    # The query answers one value per label (a row per variant or segment, a series per
    # label value): each is judged, and the worst decides (see `decisive`).
    per: str | None = Field(default=None, min_length=1)

    _source = model_validator(mode="after")(source_fits)

    @property
    def source(self) -> MetricSource:
        """Where this condition's query is answered."""
        return source_of(self)

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


CHANGE_PATTERN = re.compile(r"^([+-])(\d+(?:\.\d+)?)%$")
CHANGE_HINT = (
    "write a signed percentage: '+20%' (at least 20% above the baseline) or "
    "'-10%' (at least 10% below it)"
)
WINDOW_PLACEHOLDER = "{window}"


def parse_change(text: str) -> tuple[str, float]:
    """`+20%` -> (">=", 0.2); `-10%` -> ("<=", -0.1): the comparison and threshold the
    relative change (now / baseline - 1) must satisfy. Raises ValueError with a hint."""
    match = CHANGE_PATTERN.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a percentage change; {CHANGE_HINT}")
    sign, number = match.groups()
    ratio = float(number) / 100
    return (">=", ratio) if sign == "+" else ("<=", -ratio)


class Baseline(BaseModel):
    """The window before the rollout started that a relative criterion is compared with.

    Measured once per rollout, for the window ending at the rollout's start: Prometheus
    evaluates `query` (default: the criterion's own query) at that instant, `{window}` in it
    standing for `window` (e.g. `avg_over_time(sum(rate(x[1h]))[{window}:1h])`); an SQL query
    may use the bound parameters `:baseline_start` and `:baseline_end`."""

    model_config = ConfigDict(extra="forbid")

    window: str
    query: str | None = Field(default=None, min_length=1)

    @field_validator("window")
    @classmethod
    def _window_is_duration(cls, value: str) -> str:
        parse_duration(value)
        if not re.fullmatch(r"\d+[wdhms]", value.strip()):
            raise ValueError(f"{value!r}: write one number and one unit, e.g. 7d, 24h or 2w")
        return value.strip()

    @property
    def length(self) -> timedelta:
        """How long the window is."""
        return parse_duration(self.window)


class Criterion(Condition):
    """Must be true for the last `consecutive` evaluations before a step advances by itself.

    Absolute (`comparison` and `threshold`: adoption > 0.6), or relative to a baseline window
    before the rollout started (`baseline: {window: 7d}` and `change: "+20%"`: the value now
    at least 20% above the baseline; `"-10%"`: at least 10% below it)."""

    baseline: Baseline | None = None
    change: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _relative_form(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if data.get("baseline") is None and data.get("change") is None:
            return data  # absolute (a stored plan's dump says `baseline: null` too)
        if data.get("change") is None:
            raise ValueError(
                "a criterion with baseline: needs change: too, e.g. change: '+20%' "
                "(or leave out baseline: and give comparison and threshold)"
            )
        if data.get("baseline") is None:
            raise ValueError(
                "a criterion with change: needs baseline: {window: 7d} (the window before "
                "the rollout started that it is compared with)"
            )
        try:
            comparison, threshold = parse_change(data["change"])
        except ValueError:
            return {**data, "comparison": ">=", "threshold": 0.0}  # `change` reports it
        given = (data.get("comparison"), data.get("threshold"))
        if given != (None, None) and given != (comparison, threshold):
            raise ValueError(
                "a criterion gives either comparison and threshold (absolute) or baseline "
                "and change (relative to the baseline), not both: remove comparison and "
                "threshold"
            )
        return {**data, "comparison": comparison, "threshold": threshold}

    @field_validator("change")
    @classmethod
    def _change_is_percentage(cls, value: str | None) -> str | None:
        if value is not None:
            parse_change(value)
            return value.strip()
        return value

    @model_validator(mode="after")
    def _relative_fits(self) -> Criterion:
        if self.baseline is None:
            if WINDOW_PLACEHOLDER in self.query:
                raise ValueError(f"{WINDOW_PLACEHOLDER} belongs in baseline.query only")
            return self
        if self.compare is not None or self.per is not None:
            raise ValueError(
                "a criterion relative to a baseline compares one number: remove compare: or per:"
            )
        if WINDOW_PLACEHOLDER in self.query:
            raise ValueError(
                f"{WINDOW_PLACEHOLDER} belongs in baseline.query (the query now has no window "
                "before the start)"
            )
        return self

    @property
    def relative(self) -> bool:
        """True when the criterion compares the value now with a baseline."""
        return self.baseline is not None and self.change is not None

    def baseline_query(self) -> str:
        """The query measuring the baseline, `{window}` filled in."""
        assert self.baseline is not None
        query = self.baseline.query or self.query
        return query.replace(WINDOW_PLACEHOLDER, self.baseline.window)

    def rule(self) -> str:
        """`needs +20% on the 7d baseline` for relative criteria; else as conditions."""
        if self.relative:
            assert self.baseline is not None
            return f"{self.change} vs the {self.baseline.window} baseline"
        return super().rule()

    def compared(self, now: float | None, baseline: float | None, why: str | None = None) -> str:
        """`baseline 1,204, now 1,512 (+25.6%, needs +20%)` for people (`why`: why there is
        no baseline yet, e.g. its measurement failed)."""
        return compared_text(now, baseline, self.unit, self.change or "", why)


def compared_text(
    now: float | None, baseline: float | None, unit: str, needs: str, why: str | None = None
) -> str:
    """`baseline 1,204, now 1,512 (+25.6%, needs +20%)`: a value now against its baseline
    and the change it needs (`why`: why there is no baseline yet)."""
    change = relative_change(now, baseline)
    how = "no baseline" if baseline is None else f"baseline {_number(baseline, unit)}"
    if baseline is None and why:
        how = f"no baseline ({why})"
    now_text = "no data" if now is None else _number(now, unit)
    moved = f"{change:+.1%}, " if change is not None else ""
    return f"{how}, now {now_text} ({moved}needs {needs})"


def baseline_lines(
    criteria: list[Criterion],
    baselines: dict[str, float | None],
    nows: dict[str, float | None],
    errors: dict[str, str] | None = None,
) -> list[str]:
    """`engagement: baseline 1,204, now 1,512 (+25.6%, needs +20%)` for each relative
    criterion (no baseline / no data where nothing was measured; `errors`: why a baseline
    measurement failed, by name)."""
    why = errors or {}
    return [
        f"{c.name}: {c.compared(nows.get(c.name), baselines.get(c.name), why.get(c.name))}"
        for c in criteria
        if c.relative
    ]


def comparison_lines(
    compared: list[tuple[str, Condition]], latest: Mapping[tuple[str, str], float | None]
) -> list[str]:
    """`no-worse (criterion): realtime - control = 0.003 (needs <= 0.001: not met)` for each
    variant comparison ("trigger" or "criterion", condition), from the latest measured
    difference by (kind, name); `no data` where none was measured."""
    lines = []
    for kind, c in compared:
        if c.compare is None:
            continue
        value = latest.get((kind, c.name))
        rule = f"{c.comparison} {format_value(c.threshold, c.unit)}"
        if value is not None and math.isnan(value):
            value = None
        if value is None:
            state = "no data"
        elif kind == "trigger":
            state = "breached" if c.compares_true(value) else "quiet"
        else:
            state = "met" if c.compares_true(value) else "not met"
        needs = "rolls back when" if kind == "trigger" else "needs"
        difference = f"{c.compare.variant} - {c.compare.baseline}"
        lines.append(
            f"{c.name} ({kind}): {difference} = {format_value(value, c.unit)} "
            f"({needs} {rule}: {state})"
        )
    return lines


def relative_change(now: float | None, baseline: float | None) -> float | None:
    """now / baseline - 1 (0.25: 25% up); None without both values or with a zero baseline
    (no relative change can be measured from nothing)."""
    if now is None or baseline is None or math.isnan(now) or math.isnan(baseline):
        return None
    if baseline == 0:
        return None
    return (now - baseline) / abs(baseline)


def _number(value: float, unit: str) -> str:
    """`1,204`, `4.62`, `0.0123 s`: thousands separated, four significant digits."""
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return f"{text} {unit}".strip() if unit else text


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


def judge_criterion(
    criterion: Criterion, value: float | None, baseline: float | None = None
) -> Verdict:
    """A criterion observation: GOOD when met (or no data is ignored). A relative criterion
    judges the change from `baseline`; no baseline is no data (its missing_data policy)."""
    if criterion.relative:
        value = relative_change(value, baseline)
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


def criterion_hold_reason(
    criterion: Criterion, reading: Reading | None, baseline: float | None = None
) -> Message | None:
    """Why `criterion` holds the step, or None when it is met (`baseline`: the stored
    baseline of a relative criterion)."""
    if reading is None or reading.at is None:
        return Message("success criterion ", Strong(criterion.name), " has not been measured yet")
    if criterion_met(criterion, reading.streak):
        return None
    measured = format_value(reading.value, criterion.unit)
    if reading.error:
        measured = f"no data ({reading.error})"
    if criterion.relative and not reading.error:
        return Message(
            "success criterion ",
            Strong(criterion.label()),
            f" is not met: {criterion.compared(reading.value, baseline)} "
            f"for {criterion.consecutive} evaluations in a row ({reading.streak.good} so far)",
        )
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
