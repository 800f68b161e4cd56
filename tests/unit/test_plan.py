"""Plan files: the shipped plan loads, and a bad plan reports every problem where it is."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from bot.domain.plan import PlanProblem, validate_plan
from bot.services.plans import PlanCatalog, load_plan_file

PLANS_DIR = Path(__file__).resolve().parents[2] / "config" / "plans"
SHIPPED = PLANS_DIR / "realtime-features.yaml"


def minimal_plan() -> dict[str, Any]:
    return {
        "name": "demo",
        "title": "Demo",
        "phases": [
            {"id": "one", "name": "One", "steps": [{"name": "a", "percentage": 0, "bake": "1d"}]},
            {
                "id": "two",
                "name": "Two",
                "steps": [
                    {"name": "b", "percentage": 50, "bake": "2h"},
                    {"name": "c", "percentage": 100},
                ],
            },
        ],
    }


def by_path(problems: list[PlanProblem]) -> dict[str, PlanProblem]:
    return {p.path: p for p in problems}


def test_shipped_plan_loads_with_four_phases_and_eight_steps() -> None:
    plan, problems = load_plan_file(SHIPPED)
    assert problems == []
    assert plan is not None
    assert plan.name == "realtime-features"
    assert plan.flag == "realtime-features"
    assert [p.id for p in plan.phases] == [
        "staging",
        "limited-beta",
        "gradual-rollout",
        "full-production",
    ]
    steps = plan.steps()
    assert [s.step.percentage for s in steps] == [0, 0, 5, 25, 50, 75, 100, 100]
    assert [s.step.bake for s in steps] == ["7d", "1d", "3d", "3d", "2d", "2d", "3d", None]
    assert [s.index for s in steps] == list(range(8))
    assert plan.last_index == 7
    assert steps[0].step.auto_advance is False  # staging waits for a person
    assert all(s.step.auto_advance for s in steps[1:7])
    assert steps[-1].step.permanent is True
    assert [s.first_in_phase for s in steps] == [True, True, False, False, True, False, False, True]


def test_shipped_plan_puts_staff_at_100_percent_before_5_percent_of_everyone() -> None:
    plan, _ = load_plan_file(SHIPPED)
    assert plan is not None
    staff, five = plan.step(1), plan.step(2)
    assert staff.phase.id == five.phase.id == "limited-beta"
    assert (staff.step.percentage, staff.step.segments) == (0, {"internal": 100})
    assert five.step.name == "Enable for 5% of users" and five.step.percentage == 5
    # staff stay at 100% from then on, until the flag is on for everyone
    assert [plan.segments_at(i) for i in range(8)] == [{}] + [{"internal": 100}] * 7
    assert plan.segment_names() == {"internal"}
    # staff are the first users to see it: the data backup runs before their step
    assert plan.first_exposed_index() == 1


def test_shipped_plan_is_in_the_catalog() -> None:
    catalog = PlanCatalog(PLANS_DIR)
    assert catalog.problems == []
    assert catalog.for_flag("realtime-features") is catalog.get("realtime-features")


def test_minimal_plan_is_valid() -> None:
    plan, problems = validate_plan(minimal_plan())
    assert problems == []
    assert plan is not None
    assert plan.last_index == 2


def test_structural_problems_are_all_reported_with_path_and_hint() -> None:
    data = minimal_plan()
    data["phases"][1]["steps"][0]["percentage"] = 150
    data["phases"][0]["steps"][0]["colour"] = "blue"
    data["phases"][1]["steps"][1]["bake"] = "3 days"
    data["surprise"] = True

    plan, problems = validate_plan(data)

    assert plan is None
    found = by_path(problems)
    assert set(found) == {
        "phases.1.steps.0.percentage",
        "phases.0.steps.0.colour",
        "phases.1.steps.1.bake",
        "surprise",
    }
    pct = found["phases.1.steps.0.percentage"]
    assert "100" in pct.message
    assert pct.hint == "percentages run from 0 to 100"
    assert "percentages run from 0 to 100" in str(pct)
    assert str(pct).startswith("phases.1.steps.0.percentage: ")
    assert found["phases.0.steps.0.colour"].hint == "remove it or check its spelling"
    assert found["surprise"].hint == "remove it or check its spelling"
    bake = found["phases.1.steps.1.bake"]
    assert "'3 days' is not a duration" in bake.message
    assert "1d12h" in bake.message  # how to write it instead


def test_missing_keys_and_empty_steps_are_reported() -> None:
    data = minimal_plan()
    del data["title"]
    data["phases"][0]["steps"] = []
    _plan, problems = validate_plan(data)
    found = by_path(problems)
    assert found["title"].hint == "add this key"
    assert found["phases.0.steps"].hint == "list at least one entry"


def test_semantic_problems_are_all_reported() -> None:
    data = minimal_plan()
    data["phases"].append(copy.deepcopy(data["phases"][0]))  # duplicate id "one", 0% after 100%
    data["phases"][0]["steps"][0]["permanent"] = True

    plan, problems = validate_plan(data)

    assert plan is None
    found = by_path(problems)
    assert "phases.2.id" in found
    assert "used twice" in found["phases.2.id"].message
    assert "phases.0" in found["phases.2.id"].message
    assert found["phases.2.id"].hint
    decreasing = found["phases.2.steps.0.percentage"]
    assert "0% is lower than the step before it (100%)" in decreasing.message
    assert "roll back" in decreasing.hint
    assert "only the last step can be permanent" in found["phases.0.steps.0.permanent"].message
    # The duplicate phase ends with a bake; the last step may not have one.
    assert "phases.2.steps.0.bake" in found


def test_decreasing_percentages_within_a_phase() -> None:
    data = minimal_plan()
    data["phases"][1]["steps"][1]["percentage"] = 40
    _plan, problems = validate_plan(data)
    assert [p.path for p in problems] == ["phases.1.steps.1.percentage"]


def test_not_a_mapping() -> None:
    plan, problems = validate_plan(["a", "list"])
    assert plan is None
    assert problems[0].path == "(top level)"


@pytest.mark.parametrize("flag", ["has space", "slash/inside", "x" * 101])
def test_invalid_flag_key_in_plan(flag: str) -> None:
    data = minimal_plan()
    data["flag"] = flag
    _plan, problems = validate_plan(data)
    assert [p.path for p in problems] == ["flag"]
    assert "Unleash" in problems[0].message


def test_yaml_syntax_error_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "name: broken\ntitle: Broken\nphases:\n  - id: one\n    name: [unclosed\n",
        encoding="utf-8",
    )
    plan, problems = load_plan_file(path)
    assert plan is None
    assert len(problems) == 1
    problem = problems[0]
    assert problem.file == str(path)
    assert problem.problem.path.startswith("line ")
    assert "column" in problem.problem.path
    assert "invalid YAML" in problem.problem.message
    assert problem.problem.hint == "fix the YAML syntax"
    assert str(problem).startswith(f"{path}: line ")


def test_yaml_syntax_error_line_number_is_one_based(tmp_path: Path) -> None:
    path = tmp_path / "tab.yaml"
    path.write_text("name: x\ntitle: y\nphases:\n\t- id: one\n", encoding="utf-8")
    _plan, problems = load_plan_file(path)
    assert problems[0].problem.path.startswith("line 4,")


def test_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    plan, problems = load_plan_file(tmp_path / "nope.yaml")
    assert plan is None
    assert problems[0].problem.path == "(file)"


def test_catalog_reports_bad_files_and_keeps_good_ones(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "bad.yml").write_text("name: [", encoding="utf-8")
    catalog = PlanCatalog(tmp_path)
    assert set(catalog.plans) == {"realtime-features"}
    assert [p.file for p in catalog.problems] == [str(tmp_path / "bad.yml")]
