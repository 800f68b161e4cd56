"""Migration plans: phases of percentage steps with bake times, read from YAML.

A plan is validated completely before use; every problem is reported with its key path
and a hint, so `rollbot plan check` can list them all at once.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.domain.checklist import Checklist
from bot.domain.durations import parse_duration
from bot.domain.flag import FLAG_KEY_HINT, is_valid_flag_key
from bot.domain.problems import describe
from bot.domain.runbook import FlagStep, RunbookStep
from bot.domain.signoff import Gate
from bot.domain.triggers import Criterion, Trigger


class Step(BaseModel):
    """One percentage step: set the flag to `percentage`, then bake for `bake`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    percentage: int = Field(ge=0, le=100)
    bake: str | None = None
    auto_advance: bool = True
    permanent: bool = False
    gate: str | None = None  # id of a gate in `Plan.gates` that must pass to leave this step
    # Metric criteria that must hold before this step advances by itself (besides its phase's).
    criteria: list[Criterion] = Field(default_factory=list)

    @field_validator("bake")
    @classmethod
    def _bake_is_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def bake_time(self) -> timedelta | None:
        """How long the step must run before it may advance, if it has a bake time."""
        return parse_duration(self.bake) if self.bake else None


class Phase(BaseModel):
    """A phase of the plan (Staging, Limited Beta, ...) made of one or more steps."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1)
    when: str | None = None
    tasks: list[str] = Field(default_factory=list)
    success_criteria: list[str] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)
    # Metric criteria every step of this phase must meet before advancing by itself.
    criteria: list[Criterion] = Field(default_factory=list)
    # Rollback triggers armed only during this phase (on top of the plan's).
    triggers: list[Trigger] = Field(default_factory=list)


class Plan(BaseModel):
    """A whole migration plan for one feature flag."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str = Field(min_length=1)
    flag: str | None = None
    description: str | None = None
    phases: list[Phase] = Field(min_length=1)
    gates: list[Gate] = Field(default_factory=list)
    checklists: list[Checklist] = Field(default_factory=list)
    # Rollback triggers armed in every phase, and the runbook a rollback runs.
    triggers: list[Trigger] = Field(default_factory=list)
    runbook: list[RunbookStep] = Field(default_factory=list)

    @field_validator("flag")
    @classmethod
    def _flag_key(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_flag_key(value):
            raise ValueError(f"{value!r} is not a valid flag key: {FLAG_KEY_HINT}")
        return value

    def steps(self) -> list[PlannedStep]:
        """All steps in order, each with its phase and position."""
        out: list[PlannedStep] = []
        for phase in self.phases:
            for i, step in enumerate(phase.steps):
                out.append(PlannedStep(len(out), phase, step, i == 0))
        return out

    def step(self, index: int) -> PlannedStep:
        """The step at a flat index (0 is the first step of the first phase)."""
        return self.steps()[index]

    def triggers_for(self, index: int) -> list[Trigger]:
        """The triggers armed while the rollout is at step `index`."""
        return [*self.triggers, *self.step(index).phase.triggers]

    def criteria_for(self, index: int) -> list[Criterion]:
        """The criteria the step at `index` must meet before it advances by itself."""
        planned = self.step(index)
        return [*planned.phase.criteria, *planned.step.criteria]

    @property
    def last_index(self) -> int:
        """Index of the final step; reaching it completes the rollout."""
        return sum(len(p.steps) for p in self.phases) - 1


@dataclass(frozen=True)
class PlannedStep:
    """A step with its place in the plan."""

    index: int
    phase: Phase
    step: Step
    first_in_phase: bool


@dataclass(frozen=True)
class PlanProblem:
    """One thing wrong with a plan: where (key path), what, and how to fix it."""

    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


_HINTS = {
    "missing": "add this key",
    "extra_forbidden": "remove it or check its spelling",
    "greater_than_equal": "percentages run from 0 to 100",
    "less_than_equal": "percentages run from 0 to 100",
    "too_short": "list at least one entry",
    "string_pattern_mismatch": "use lower-case letters, digits and '-'",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "enum": "use one of the values listed",
    "list_type": "write a list (`- item` lines or [a, b])",
    "float_parsing": "write a number, e.g. 0.01",
    "union_tag_invalid": "kind is one of flag, command, http, wait_for_health",
    "union_tag_not_found": "add kind: flag, command, http or wait_for_health",
}


def _path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def validate_plan(
    data: Any, roles: Collection[str] | None = None
) -> tuple[Plan | None, list[PlanProblem]]:
    """Validate parsed YAML as a plan; return the plan (if usable) and every problem found.

    With `roles` (the role ids of a config), gates and checklist owners naming other roles
    are problems too.
    """
    if not isinstance(data, dict):
        return None, [PlanProblem("(top level)", "a plan must be a mapping", "see config/plans/")]
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        problems = [
            PlanProblem(_path(err["loc"]), describe(err), _HINTS.get(err["type"], ""))
            for err in exc.errors()
        ]
        return None, problems
    problems = _semantic_problems(plan)
    from bot.domain.plan_gates import gate_problems  # it needs Plan, defined here

    problems += gate_problems(plan, roles)
    return (None if problems else plan), problems


def _semantic_problems(plan: Plan) -> list[PlanProblem]:
    problems: list[PlanProblem] = []
    seen: dict[str, int] = {}
    for i, phase in enumerate(plan.phases):
        if phase.id in seen:
            problems.append(
                PlanProblem(
                    f"phases.{i}.id",
                    f"phase id {phase.id!r} is used twice (also phases.{seen[phase.id]})",
                    "give every phase its own id",
                )
            )
        seen.setdefault(phase.id, i)
    previous = -1
    locations = [
        f"phases.{p}.steps.{s}"
        for p, phase in enumerate(plan.phases)
        for s in range(len(phase.steps))
    ]
    for planned in plan.steps():
        loc = locations[planned.index]
        pct = planned.step.percentage
        if pct < previous:
            problems.append(
                PlanProblem(
                    f"{loc}.percentage",
                    f"{pct}% is lower than the step before it ({previous}%)",
                    "a rollout only moves up; roll back to go down",
                )
            )
        previous = max(previous, pct)
        last = planned.index == plan.last_index
        if planned.step.permanent and not last:
            problems.append(
                PlanProblem(
                    f"{loc}.permanent",
                    "only the last step can be permanent",
                    "move it to the end of the plan",
                )
            )
        if last and planned.step.bake:
            problems.append(
                PlanProblem(
                    f"{loc}.bake",
                    "the last step completes the rollout, so it has no bake time",
                    "remove bake, or add a final step after it",
                )
            )
    problems.extend(_metric_problems(plan))
    return problems


def _unique(names: list[tuple[str, str]], what: str) -> list[PlanProblem]:
    """Problems for (path, name) pairs whose name was used before."""
    seen: dict[str, str] = {}
    problems: list[PlanProblem] = []
    for path, name in names:
        if name in seen:
            problems.append(
                PlanProblem(
                    path, f"{what} {name!r} is used twice (also {seen[name]})", "rename one"
                )
            )
        seen.setdefault(name, path)
    return problems


def _metric_problems(plan: Plan) -> list[PlanProblem]:
    """Triggers, criteria and runbook steps: names that collide, a flag step out of place."""
    triggers = [(f"triggers.{i}.name", t.name) for i, t in enumerate(plan.triggers)]
    problems: list[PlanProblem] = []
    for p, phase in enumerate(plan.phases):
        phase_triggers = [
            (f"phases.{p}.triggers.{i}.name", t.name) for i, t in enumerate(phase.triggers)
        ]
        problems += _unique(triggers + phase_triggers, "trigger name")
        for s, step in enumerate(phase.steps):
            names = [
                (f"phases.{p}.criteria.{i}.name", c.name) for i, c in enumerate(phase.criteria)
            ]
            names += [
                (f"phases.{p}.steps.{s}.criteria.{i}.name", c.name)
                for i, c in enumerate(step.criteria)
            ]
            problems += _unique(names, "criterion name")
    problems += _unique(
        [(f"runbook.{i}.name", s.name) for i, s in enumerate(plan.runbook)], "step name"
    )
    for i, runbook_step in enumerate(plan.runbook):
        if isinstance(runbook_step, FlagStep) and i > 0:
            problems.append(
                PlanProblem(
                    f"runbook.{i}.kind",
                    "the flag step must be the runbook's first step",
                    "users are protected by turning the flag off first; move it to the top "
                    "(or leave it out: rollbot adds it)",
                )
            )
    # Duplicates found once per phase would repeat; keep each problem once.
    return list(dict.fromkeys(problems))


class StoredPlans:
    """Plans as rollouts keep them (the JSON of the plan they started with), validated once
    per distinct content: every card, status and tick of a rollout reads its plan, and
    validating it again each time was most of their cost. Keyed by a hash of the content,
    so a plan edited on disk (a new content) is validated afresh; the newest `size`
    contents are kept. Cached plans are shared: callers read them and never change them."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._plans: OrderedDict[bytes, Plan] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def content_hash(data: dict[str, Any]) -> bytes:
        """A hash of the plan's content (pickled: several times cheaper than encoding it as
        JSON; a document with its keys in another order is only a cache miss)."""
        return hashlib.blake2b(pickle.dumps(data, 5), digest_size=16).digest()

    def get(self, data: dict[str, Any], key: bytes | None = None) -> Plan:
        """The validated plan of a stored plan document; `key`, when the store has one, is
        a hash of its stored text (else its content is hashed here)."""
        key = key or self.content_hash(data)
        with self._lock:
            plan = self._plans.get(key)
            if plan is not None:
                self._plans.move_to_end(key)
                return plan
        plan = Plan.model_validate(data)
        with self._lock:
            self._plans[key] = plan
            while len(self._plans) > self.size:
                self._plans.popitem(last=False)
        return plan

    def __len__(self) -> int:
        return len(self._plans)


STORED_PLANS = StoredPlans()
"""The process's cache of stored plans (a pure function's memo: the same content always
validates to the same plan)."""
