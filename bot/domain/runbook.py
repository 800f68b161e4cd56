"""The rollback runbooks a plan carries: ordered steps of five kinds.

The full runbook (`runbook:`, named `full`) always starts by turning the flag off, so users
are protected within seconds and the slower steps (drain, revert, deploy, verify) follow. A
plan may write that flag step itself (it must then be the first step) or leave it out, in
which case it is added. A plan may also name runbooks for particular risks (`runbooks:`); a
*partial* one (restart the servers, turn off another flag) leaves the rollout's own flag
alone, so the rollout stays where it is, paused.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.durations import parse_duration
from bot.domain.flag import FlagKey
from bot.domain.triggers import COMPARISONS

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _StepBase(BaseModel):
    """What every runbook step has: a name, a time budget, retries, and what a failure does."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    timeout: str = "60s"
    retries: int = Field(default=0, ge=0, le=10)
    retry_delay: str = "2s"
    continue_on_error: bool = False
    # Safe to run again when rollbot stopped while it ran? A step that is not (a `git revert`
    # that pushes) then waits for a person to re-run it, skip it or abort the rollback.
    idempotent: bool = True

    @field_validator("timeout", "retry_delay")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def timeout_s(self) -> float:
        """The step's time budget for one attempt, in seconds."""
        return parse_duration(self.timeout).total_seconds()

    @property
    def retry_delay_s(self) -> float:
        """Seconds to wait between attempts."""
        return parse_duration(self.retry_delay).total_seconds()


class FlagStep(_StepBase):
    """Set flag fields through the configured flag provider (by default: turn it off)."""

    kind: Literal["flag"]
    # Another flag to set (e.g. `realtime-collab` in a partial runbook); default: the
    # rollout's own flag.
    flag: FlagKey | None = None
    set: dict[str, Any] = Field(default_factory=lambda: {"enabled": False, "rollout_percentage": 0})

    @field_validator("set")
    @classmethod
    def _turns_off(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Import here: flag.py is a sibling domain module with no dependency on this one.
        from bot.domain.flag import FlagChange

        FlagChange.model_validate(value)
        if value.get("enabled") is not False and value.get("rollout_percentage", 1) != 0:
            raise ValueError(
                "a rollback's flag step must turn the flag off "
                "(enabled: false and/or rollout_percentage: 0)"
            )
        return value


class CommandStep(_StepBase):
    """A shell command; output is captured, and its tail is posted."""

    kind: Literal["command"]
    run: str = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    env_from: dict[str, str] = Field(
        default_factory=dict,
        description="variable in the command's environment -> variable of rollbot's environment "
        "(for secrets, which never go in a plan)",
    )
    cwd: str | None = None

    @field_validator("env", "env_from")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.match(ENV_NAME, name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return value


class HttpStep(_StepBase):
    """An HTTP request that must answer with an expected status."""

    kind: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    headers_from_env: dict[str, str] = Field(
        default_factory=dict,
        description="header -> environment variable holding its value (e.g. a bearer token)",
    )
    body: Any = None
    expect_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])


class WaitForHealthStep(_StepBase):
    """Poll a URL (healthy = expected status) or a metric (healthy = comparison true)."""

    kind: Literal["wait_for_health"]
    url: str | None = Field(default=None, pattern=r"^https?://")
    expect_status: list[int] = Field(default_factory=lambda: [200])
    query: str | None = None
    comparison: str | None = None
    threshold: float | None = None
    interval: str = "5s"
    timeout: str = "5m"

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _url_or_metric(self) -> WaitForHealthStep:
        if (self.url is None) == (self.query is None):
            raise ValueError("give either url (an HTTP health check) or query (a metric)")
        if self.query is not None and (
            self.comparison not in COMPARISONS or self.threshold is None
        ):
            raise ValueError(
                "a metric health check needs comparison (one of "
                f"{', '.join(COMPARISONS)}) and threshold"
            )
        return self

    @property
    def interval_s(self) -> float:
        """Seconds between polls."""
        return max(0.1, parse_duration(self.interval).total_seconds())

    def healthy_value(self, value: float) -> bool:
        """True when a metric value counts as healthy."""
        assert self.comparison is not None and self.threshold is not None
        return {
            ">": value > self.threshold,
            ">=": value >= self.threshold,
            "<": value < self.threshold,
            "<=": value <= self.threshold,
        }[self.comparison]


SQL_NAME = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$"
"""A table name a step may count rows of: an identifier, optionally schema-qualified."""


class SqlStep(_StepBase):
    """Statements run against a database named in the config, in one transaction with a
    statement timeout: all of them commit or none. `skip_if` (a query whose first value is
    true when the work is already done) makes a re-run safe; `count_rows` reports the row
    counts of tables before and after."""

    kind: Literal["sql"]
    database: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    statements: list[str] = Field(min_length=1)
    skip_if: str | None = Field(default=None, min_length=1)
    count_rows: list[str] = Field(default_factory=list)

    @field_validator("statements")
    @classmethod
    def _not_blank(cls, value: list[str]) -> list[str]:
        if any(not s.strip() for s in value):
            raise ValueError("a statement is empty")
        return value

    @field_validator("count_rows")
    @classmethod
    def _tables(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.match(SQL_NAME, name):
                raise ValueError(f"{name!r} is not a table name (letters, digits, '_')")
        return value


RunbookStep = Annotated[
    FlagStep | CommandStep | HttpStep | WaitForHealthStep | SqlStep, Field(discriminator="kind")
]

FULL = "full"
"""The name of the plan's `runbook:`: the full rollback, flag off first."""


class Runbook(BaseModel):
    """A named runbook of a plan (`runbooks: {name: ...}`), for one risk."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    # Partial: it does not turn the rollout's flag off; the rollout stays, paused.
    partial: bool = False
    steps: list[RunbookStep] = Field(min_length=1)


DEFAULT_FLAG_STEP = FlagStep(kind="flag", name="Turn the flag off", timeout="30s", retries=3)


def turns_own_flag(step: RunbookStep, flag_key: str | None) -> bool:
    """True for a flag step that sets the rollout's own flag."""
    return isinstance(step, FlagStep) and (step.flag is None or step.flag == flag_key)


def effective_steps(steps: list[RunbookStep], partial: bool = False) -> list[RunbookStep]:
    """The steps that run: the plan's, with the flag-off step first (added if missing);
    a partial runbook's as written."""
    if partial:
        return list(steps)
    if steps and isinstance(steps[0], FlagStep) and steps[0].flag is None:
        return list(steps)
    return [DEFAULT_FLAG_STEP, *steps]


def total_budget(steps: list[RunbookStep]) -> timedelta:
    """The longest a runbook can take (every attempt of every step timing out)."""
    seconds = sum((s.timeout_s + s.retry_delay_s) * (s.retries + 1) for s in steps)
    return timedelta(seconds=seconds)


# What rollbot itself gives every command step (bot/providers/runbook/steps.py).
GIVEN_TO_COMMANDS = frozenset({"ROLLBOT_FLAG", "ROLLBOT_ROLLOUT_ID", "ROLLBOT_REASON"})
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def needed_env(steps: list[RunbookStep]) -> dict[str, list[str]]:
    """Environment variables a runbook reads, each with the steps that read it: `$NAME` and
    `${NAME...}` in commands (minus what the step or rollbot sets), `env_from` sources and
    `headers_from_env` of http steps."""
    needed: dict[str, list[str]] = {}
    for step in steps:
        names: set[str] = set()
        if isinstance(step, CommandStep):
            set_here = set(step.env) | set(step.env_from) | GIVEN_TO_COMMANDS
            names |= {n for n in _VARIABLE.findall(step.run) if n not in set_here}
            names |= set(step.env_from.values())
        if isinstance(step, HttpStep):
            names |= set(step.headers_from_env.values())
        for name in sorted(names):
            needed.setdefault(name, []).append(step.name)
    return needed
