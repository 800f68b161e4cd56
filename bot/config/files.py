"""Problems found in a file (which file, where in it, what, a hint), and reading YAML so
that a syntax error becomes such a problem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.domain.plan import PlanProblem


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
        return None, [yaml_problem(exc)]


# What PyYAML calls the construct it was reading, in the words of someone writing YAML.
_OPENED = {
    "a flow sequence": "a `[` list",
    "a flow mapping": "a `{` mapping",
    "a quoted scalar": "a quoted string",
    "a block mapping": "a mapping",
    "a block collection": "a list",
}


def yaml_problem(exc: yaml.YAMLError) -> PlanProblem:
    """A YAML syntax error as a problem pointing at what is not closed or not right.

    PyYAML notices an error where it stops (often lines after the typo); when it says what
    it was reading (an unclosed `[`, a quoted string), that place is the one to fix.
    """
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    what = getattr(exc, "problem", None) or str(exc)
    started = getattr(exc, "context", None)
    mark = context if context is not None and started else problem
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
    if mark is context and problem is not None:
        opened = str(started).removeprefix("while parsing ").removeprefix("while scanning ")
        opened = _OPENED.get(opened, opened)
        what = f"{opened} starts here and is not closed ({what} on line {problem.line + 1})"
    return PlanProblem(where, f"invalid YAML: {what}", "fix the YAML syntax")
