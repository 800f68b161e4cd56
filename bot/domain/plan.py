"""Migration plans: phases of percentage steps with bake times, read from YAML.

A plan is validated completely before use; every problem is reported with its key path
and a hint, so `rollbot plan check` can list them all at once.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from bot.domain.checklist import Checklist
from bot.domain.durations import parse_duration
from bot.domain.flag import FlagKey, check_segment_rollouts
from bot.domain.problems import describe
from bot.domain.runbook import (
    FULL,
    Runbook,
    RunbookStep,
    SqlStep,
    effective_steps,
    turns_own_flag,
)
from bot.domain.signoff import Gate
from bot.domain.triggers import Condition, Criterion, Trigger


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
    # Percentages of segments defined in config (`flags.segments`), from this step on: the
    # flag's `segment_rollouts` (a later step's value for a segment replaces an earlier one).
    segments: dict[str, int] = Field(default_factory=dict)

    @field_validator("segments")
    @classmethod
    def _segments(cls, value: dict[str, int]) -> dict[str, int]:
        return check_segment_rollouts(value)

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
    flag: FlagKey | None = None
    description: str | None = None
    phases: list[Phase] = Field(min_length=1)
    gates: list[Gate] = Field(default_factory=list)
    checklists: list[Checklist] = Field(default_factory=list)
    # Rollback triggers armed in every phase, and the runbook a rollback runs.
    triggers: list[Trigger] = Field(default_factory=list)
    runbook: list[RunbookStep] = Field(default_factory=list)
    # Runbooks for particular risks, by name; `runbook:` above is the one named `full`.
    runbooks: dict[str, Runbook] = Field(default_factory=dict)
    # A data backup run before the first user sees the feature (before the first step with
    # a percentage above 0); its restore belongs in the runbook.
    backup: SqlStep | None = None
    # The plan's success metrics (the seed's "Technical Metrics"), written like criteria: a
    # metric is met when its comparison is true. Digests show them as a scorecard; they
    # hold nothing.
    success_metrics: list[Criterion] = Field(default_factory=list)
    _steps: tuple[PlannedStep, ...] | None = PrivateAttr(default=None)

    def steps(self) -> list[PlannedStep]:
        """All steps in order, each with its phase and position."""
        # Worked out once per plan (plans are not changed after validation): a digest asks
        # every active rollout's plan for its step several times.
        if self._steps is None:
            out: list[PlannedStep] = []
            for phase in self.phases:
                for i, step in enumerate(phase.steps):
                    out.append(PlannedStep(len(out), phase, step, i == 0))
            self._steps = tuple(out)
        return list(self._steps)

    def segments_at(self, index: int) -> dict[str, int]:
        """The segment percentages in force at step `index` (every earlier step's, the later
        replacing the earlier)."""
        merged: dict[str, int] = {}
        for planned in self.steps()[: index + 1]:
            merged.update(planned.step.segments)
        return merged

    def segment_names(self) -> set[str]:
        """Every segment the plan's steps name."""
        return {name for planned in self.steps() for name in planned.step.segments}

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

    def relative_criteria(self, index: int | None = None) -> list[Criterion]:
        """Criteria and success metrics measured against a baseline, one per name: those of
        step `index` and the plan's success metrics, or with no index, every one."""
        if index is None:
            criteria = [c for p in self.phases for c in p.criteria]
            criteria += [c for p in self.phases for s in p.steps for c in s.criteria]
        else:
            criteria = self.criteria_for(index)
        found: dict[str, Criterion] = {}
        for c in [*criteria, *self.success_metrics]:
            if c.relative:
                found.setdefault(c.name, c)
        return list(found.values())

    def variant_comparisons(self) -> list[tuple[str, Condition]]:
        """Every trigger and criterion that compares two A/B variants, as ("trigger" or
        "criterion", condition), one per kind and name, triggers first."""
        triggers = [*self.triggers, *(t for p in self.phases for t in p.triggers)]
        criteria = [c for p in self.phases for c in p.criteria]
        criteria += [c for p in self.phases for s in p.steps for c in s.criteria]
        found: dict[tuple[str, str], Condition] = {}
        for kind, conditions in (("trigger", triggers), ("criterion", criteria)):
            for c in conditions:
                if c.compare is not None:
                    found.setdefault((kind, c.name), c)
        return [(kind, c) for (kind, _name), c in found.items()]

    def runbook_names(self) -> list[str]:
        """Every runbook a rollback may run: `full` first, then the named ones."""
        return [FULL, *self.runbooks]

    def has_runbook(self, name: str) -> bool:
        """True when `name` is one of `runbook_names()`."""
        return name == FULL or name in self.runbooks

    def runbook_steps(self, name: str = FULL) -> list[RunbookStep]:
        """The steps runbook `name` runs (the full one with its flag-off step first)."""
        if name == FULL:
            return effective_steps(self.runbook)
        named = self.runbooks[name]
        return effective_steps(named.steps, partial=named.partial)

    def runbook_partial(self, name: str = FULL) -> bool:
        """True when runbook `name` leaves the rollout's flag alone (the rollout pauses)."""
        return name != FULL and self.runbooks[name].partial

    def runbook_description(self, name: str = FULL) -> str:
        """What runbook `name` is for, for menus and messages."""
        if name == FULL:
            return "full rollback: the flag off first, then the runbook"
        named = self.runbooks[name]
        return named.description or ("partial runbook" if named.partial else "runbook")

    def first_exposed_index(self) -> int | None:
        """The first step whose percentage, or a segment's, is above 0: where users first
        see the feature (staff first, when a step gives a segment its own percentage)."""
        return next(
            (
                p.index
                for p in self.steps()
                if p.step.percentage > 0 or any(v > 0 for v in self.segments_at(p.index).values())
            ),
            None,
        )

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
    "union_tag_invalid": "kind is one of flag, command, http, wait_for_health, sql",
    "union_tag_not_found": "add kind: flag, command, http, wait_for_health or sql",
    "literal_error": "use one of the values listed",
}


def _path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def validate_plan(
    data: Any,
    roles: Collection[str] | None = None,
    databases: Collection[str] | None = None,
) -> tuple[Plan | None, list[PlanProblem]]:
    """Validate parsed YAML as a plan; return the plan (if usable) and every problem found.

    With `roles` (the role ids of a config), gates and checklist owners naming other roles
    are problems too; with `databases` (the config's named databases), so are sql queries
    and steps naming other databases.
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
    if databases is not None:
        problems += database_problems(plan, databases)
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
        [(f"success_metrics.{i}.name", m.name) for i, m in enumerate(plan.success_metrics)],
        "success metric name",
    )
    problems += _runbook_problems(plan, "runbook", plan.runbook, partial=False)
    for name, named in plan.runbooks.items():
        where = f"runbooks.{name}"
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name) or name == FULL:
            problems.append(
                PlanProblem(
                    where,
                    f"{name!r} cannot name a runbook"
                    + (": `full` is the plan's `runbook:`" if name == FULL else ""),
                    "use lower-case letters, digits, '-' and '_', other than full",
                )
            )
        problems += _runbook_problems(plan, f"{where}.steps", named.steps, named.partial)
    all_triggers = [(f"triggers.{i}", t) for i, t in enumerate(plan.triggers)]
    all_triggers += [
        (f"phases.{p}.triggers.{i}", t)
        for p, phase in enumerate(plan.phases)
        for i, t in enumerate(phase.triggers)
    ]
    for path, trigger in all_triggers:
        if trigger.runbook is not None and not plan.has_runbook(trigger.runbook):
            problems.append(
                PlanProblem(
                    f"{path}.runbook",
                    f"there is no runbook called {trigger.runbook!r}",
                    f"runbooks of this plan: {', '.join(plan.runbook_names())}",
                )
            )
    if plan.backup is not None and plan.first_exposed_index() is None:
        problems.append(
            PlanProblem(
                "backup",
                "no step has a percentage above 0, so the backup would never run",
                "the backup runs just before the first step that shows users the feature",
            )
        )
    # Duplicates found once per phase would repeat; keep each problem once.
    return list(dict.fromkeys(problems))


def _runbook_problems(
    plan: Plan, where: str, steps: list[RunbookStep], partial: bool
) -> list[PlanProblem]:
    """Step names used twice; the rollout's flag step out of place (or in a partial one)."""
    problems = _unique([(f"{where}.{i}.name", s.name) for i, s in enumerate(steps)], "step name")
    for i, runbook_step in enumerate(steps):
        if not turns_own_flag(runbook_step, plan.flag):
            continue
        if partial:
            problems.append(
                PlanProblem(
                    f"{where}.{i}",
                    "a partial runbook leaves the rollout's own flag alone",
                    "name another flag with flag:, or make the runbook full (partial: false)",
                )
            )
        elif i > 0:
            problems.append(
                PlanProblem(
                    f"{where}.{i}.kind",
                    "the flag step must be the runbook's first step",
                    "users are protected by turning the flag off first; move it to the top "
                    "(or leave it out: rollbot adds it)",
                )
            )
    return problems


def database_problems(plan: Plan, databases: Collection[str]) -> list[PlanProblem]:
    """SQL queries, probes and steps naming a database the config does not have."""
    named: list[tuple[str, str | None]] = []
    conditions: list[tuple[str, Condition]] = [
        (f"triggers.{i}", c) for i, c in enumerate(plan.triggers)
    ]
    for p, phase in enumerate(plan.phases):
        conditions += [(f"phases.{p}.triggers.{i}", c) for i, c in enumerate(phase.triggers)]
        conditions += [(f"phases.{p}.criteria.{i}", c) for i, c in enumerate(phase.criteria)]
        for s, step in enumerate(phase.steps):
            conditions += [
                (f"phases.{p}.steps.{s}.criteria.{i}", c) for i, c in enumerate(step.criteria)
            ]
    named += [(f"{path}.database", c.database) for path, c in conditions]
    for c, checklist in enumerate(plan.checklists):
        for i, item in enumerate(checklist.items):
            if item.probe is not None:
                named.append((f"checklists.{c}.items.{i}.probe.database", item.probe.database))
    runbooks: list[tuple[str, list[RunbookStep]]] = [("runbook", plan.runbook)]
    runbooks += [(f"runbooks.{n}.steps", r.steps) for n, r in plan.runbooks.items()]
    for where, steps in runbooks:
        named += [
            (f"{where}.{i}.database", s.database)
            for i, s in enumerate(steps)
            if isinstance(s, SqlStep)
        ]
    if plan.backup is not None:
        named.append(("backup.database", plan.backup.database))
    known = ", ".join(sorted(databases)) or "none configured"
    return [
        PlanProblem(
            path,
            f"there is no database called {name!r} in the config",
            f"databases: {known} (the config's `databases:` section)",
        )
        for path, name in named
        if name is not None and name not in databases
    ]


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
