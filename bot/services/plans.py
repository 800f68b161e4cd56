"""Plan files on disk: load, validate, and look up by name."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from bot.config.files import FileProblem, read_yaml
from bot.domain.errors import NotFound
from bot.domain.message import Code, Message
from bot.domain.plan import Plan, PlanProblem, validate_plan


def load_plan_file(
    path: Path,
    roles: Collection[str] | None = None,
    databases: Collection[str] | None = None,
) -> tuple[Plan | None, list[FileProblem]]:
    """Load and validate one plan file (with `roles`, gates and owners must name them; with
    `databases`, sql queries and steps must name one of them)."""
    data, problems = read_yaml(path)
    if not problems:
        plan, problems = validate_plan(data, roles=roles, databases=databases)
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
            raise NotFound(
                Message("There is no plan called ", Code(name), "."), f"Known plans: {known}."
            ) from None

    def for_flag(self, flag_key: str) -> Plan | None:
        """The plan written for this flag (its `flag:` key or its name), if exactly one."""
        matches = [p for p in self.plans.values() if p.flag == flag_key]
        if len(matches) == 1:
            return matches[0]
        return self.plans.get(flag_key)
