"""Criteria relative to a baseline window before the rollout started (`baseline:` and
`change:`): validated with key paths and hints, judged by the change from the baseline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.domain.plan import validate_plan
from bot.domain.triggers import (
    Criterion,
    Reading,
    Streak,
    Verdict,
    criterion_hold_reason,
    judge_criterion,
    relative_change,
)

_T = datetime(2026, 1, 1, tzinfo=UTC)


def _plan(criterion: dict[str, Any], where: str = "criteria") -> dict[str, Any]:
    phase: dict[str, Any] = {"id": "a", "name": "A", "steps": [{"name": "all", "percentage": 50}]}
    plan: dict[str, Any] = {"name": "p", "title": "P", "phases": [phase]}
    if where == "criteria":
        phase["criteria"] = [criterion]
    else:
        plan["success_metrics"] = [criterion]
    return plan


def _relative(**extra: Any) -> dict[str, Any]:
    return {"name": "engagement", "query": "sum(x)", "baseline": {"window": "7d"}, **extra}


def test_change_sets_the_comparison_of_the_relative_change() -> None:
    up = Criterion.model_validate(_relative(change="+20%"))
    down = Criterion.model_validate(_relative(change="-10%"))
    assert (up.comparison, up.threshold, up.relative) == (">=", 0.2, True)
    assert (down.comparison, down.threshold) == ("<=", -0.1)
    assert up.rule() == "+20% vs the 7d baseline"


def test_a_stored_plan_validates_again_after_a_dump() -> None:
    # Rollouts keep the plan's JSON; the comparison filled in from `change` must not clash.
    criterion = Criterion.model_validate(_relative(change="+20%"))
    again = Criterion.model_validate(criterion.model_dump())
    assert again == criterion
    absolute = Criterion.model_validate(
        {"name": "a", "query": "q", "comparison": ">", "threshold": 1}
    )
    assert Criterion.model_validate(absolute.model_dump()) == absolute


@pytest.mark.parametrize("where", ["criteria", "success_metrics"])
def test_a_bad_percentage_says_what_it_should_look_like(where: str) -> None:
    _, problems = validate_plan(_plan(_relative(change="20"), where))
    path = "phases.0.criteria.0.change" if where == "criteria" else "success_metrics.0.change"
    assert [p.path for p in problems] == [path]
    assert "'+20%'" in problems[0].message and "'-10%'" in problems[0].message


def test_threshold_and_change_together_are_a_problem() -> None:
    _, problems = validate_plan(_plan(_relative(change="+20%", comparison=">", threshold=5)))
    assert [p.path for p in problems] == ["phases.0.criteria.0"]
    assert "either comparison and threshold" in problems[0].message


def test_baseline_without_change_and_change_without_baseline_are_problems() -> None:
    _, problems = validate_plan(_plan(_relative()))
    assert "needs change:" in problems[0].message
    no_baseline = {"name": "e", "query": "q", "change": "+5%"}
    _, problems = validate_plan(_plan(no_baseline))
    assert "needs baseline: {window: 7d}" in problems[0].message


def test_a_bad_window_names_its_key() -> None:
    _, problems = validate_plan(_plan(_relative(change="+1%", baseline={"window": "a week"})))
    assert [p.path for p in problems] == ["phases.0.criteria.0.baseline.window"]
    assert "not a duration" in problems[0].message


def test_window_placeholder_only_in_the_baseline_query() -> None:
    _, problems = validate_plan(_plan(_relative(change="+1%", query="avg_over_time(x[{window}])")))
    assert "{window} belongs in baseline.query" in problems[0].message
    ok = Criterion.model_validate(
        _relative(change="+1%", baseline={"window": "7d", "query": "avg_over_time(x[{window}])"})
    )
    assert ok.baseline_query() == "avg_over_time(x[7d])"
    assert Criterion.model_validate(_relative(change="+1%")).baseline_query() == "sum(x)"


def test_relative_criteria_compare_one_number() -> None:
    _, problems = validate_plan(_plan(_relative(change="+1%", per="variant")))
    assert "remove compare: or per:" in problems[0].message


def test_absolute_criteria_still_need_comparison_and_threshold() -> None:
    _, problems = validate_plan(_plan({"name": "adoption", "query": "q", "comparison": ">"}))
    assert [p.path for p in problems] == ["phases.0.criteria.0.threshold"]


def test_judged_by_the_change_from_the_baseline() -> None:
    up = Criterion.model_validate(_relative(change="+20%"))
    assert judge_criterion(up, 1512, 1204) is Verdict.GOOD  # +25.6%
    assert judge_criterion(up, 1400, 1204) is Verdict.BAD  # +16.3%
    tickets = Criterion.model_validate(_relative(change="-10%"))
    assert judge_criterion(tickets, 85, 100) is Verdict.GOOD
    assert judge_criterion(tickets, 95, 100) is Verdict.BAD
    assert relative_change(1.0, 0.0) is None


def test_no_baseline_follows_the_missing_data_policy() -> None:
    hold = Criterion.model_validate(_relative(change="+20%"))
    assert judge_criterion(hold, 1512, None) is Verdict.HOLD
    breach = Criterion.model_validate(_relative(change="+20%", missing_data="breach"))
    assert judge_criterion(breach, 1512, None) is Verdict.BAD


def test_the_hold_reason_shows_baseline_now_and_change() -> None:
    up = Criterion.model_validate(_relative(change="+20%"))
    reading = Reading("engagement", 1400.0, Streak(bad=1, last=Verdict.BAD), at=_T)
    reason = criterion_hold_reason(up, reading, 1204.0)
    assert reason is not None
    assert "baseline 1,204, now 1,400 (+16.3%, needs +20%)" in reason.plain()
    missing = criterion_hold_reason(up, reading, None)
    assert missing is not None and "no baseline, now 1,400 (needs +20%)" in missing.plain()
