"""Plan files on disk: load, validate, and look up by name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.domain.errors import NotFound
from bot.domain.plan import Plan, PlanProblem, validate_plan


@dataclass(frozen=True)
class FileProblem:
    """A problem in a file: which file, where in it, what, and a hint."""

    file: str
    problem: PlanProblem

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


def read_yaml(path: Path) -> tuple[Any, list[PlanProblem]]:
    """Parse a YAML file; a syntax error becomes a problem with its line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [PlanProblem("(file)", f"cannot read: {exc.strerror}", "check the path")]
    try:
        return yaml.safe_load(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        what = getattr(exc, "problem", None) or str(exc)
        return None, [PlanProblem(where, f"invalid YAML: {what}", "fix the YAML syntax")]


def load_plan_file(path: Path) -> tuple[Plan | None, list[FileProblem]]:
    """Load and validate one plan file."""
    data, problems = read_yaml(path)
    if not problems:
        plan, problems = validate_plan(data)
    else:
        plan = None
    return plan, [FileProblem(str(path), p) for p in problems]


class PlanCatalog:
    """The plans in a directory (`*.yaml`, `*.yml`), by name."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.plans: dict[str, Plan] = {}
        self.problems: list[FileProblem] = []
        self.reload()

    def reload(self) -> None:
        """Read every plan file again; invalid ones are left out and reported in `problems`."""
        plans: dict[str, Plan] = {}
        problems: list[FileProblem] = []
        if not self.directory.is_dir():
            problems.append(
                FileProblem(
                    str(self.directory),
                    PlanProblem(
                        "(directory)",
                        "plans directory does not exist",
                        "set plans_dir in the config",
                    ),
                )
            )
        else:
            files = sorted([*self.directory.glob("*.yaml"), *self.directory.glob("*.yml")])
            for path in files:
                plan, found = load_plan_file(path)
                problems.extend(found)
                if plan is None:
                    continue
                if plan.name in plans:
                    problems.append(
                        FileProblem(
                            str(path),
                            PlanProblem(
                                "name",
                                f"plan name {plan.name!r} is used by another file",
                                "give every plan its own name",
                            ),
                        )
                    )
                    continue
                plans[plan.name] = plan
        self.plans, self.problems = plans, problems

    def get(self, name: str) -> Plan:
        """The plan called `name`, or NotFound listing the plans there are."""
        try:
            return self.plans[name]
        except KeyError:
            known = ", ".join(sorted(self.plans)) or "none"
            raise NotFound(f"There is no plan called `{name}`.", f"Known plans: {known}.") from None

    def for_flag(self, flag_key: str) -> Plan | None:
        """The plan written for this flag (its `flag:` key or its name), if exactly one."""
        matches = [p for p in self.plans.values() if p.flag == flag_key]
        if len(matches) == 1:
            return matches[0]
        return self.plans.get(flag_key)
