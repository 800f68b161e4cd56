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
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        what = getattr(exc, "problem", None) or str(exc)
        return None, [PlanProblem(where, f"invalid YAML: {what}", "fix the YAML syntax")]
