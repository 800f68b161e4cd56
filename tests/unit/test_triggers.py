"""Trigger and criterion rules: comparisons, missing data, streaks, hold reasons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.domain.triggers import (
    Criterion,
    MissingData,
    Reading,
    Streak,
    Trigger,
    Verdict,
    criterion_hold_reason,
    criterion_met,
    fires,
    format_value,
    judge_criterion,
    judge_trigger,
    observe,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def trigger(**kw: object) -> Trigger:
    base: dict[str, object] = {"name": "errors", "query": "q", "comparison": ">", "threshold": 0.01}
    return Trigger.model_validate({**base, **kw})


def criterion(**kw: object) -> Criterion:
    base: dict[str, object] = {"name": "ok", "query": "q", "comparison": ">", "threshold": 0.99}
    return Criterion.model_validate({**base, **kw})


@pytest.mark.parametrize(
    ("comparison", "value", "breaches"),
    [
        (">", 0.02, True),
        (">", 0.01, False),
        (">=", 0.01, True),
        ("<", 0.005, True),
        ("<", 0.01, False),
        ("<=", 0.01, True),
    ],
)
def test_comparisons(comparison: str, value: float, breaches: bool) -> None:
    t = trigger(comparison=comparison)
    assert (judge_trigger(t, value) is Verdict.BAD) is breaches


def test_defaults_and_bad_input() -> None:
    t = trigger()
    assert t.consecutive == 2 and t.missing_data is MissingData.HOLD
    with pytest.raises(ValidationError, match="is not a comparison"):
        trigger(comparison="=>")
    with pytest.raises(ValidationError):
        trigger(consecutive=0)
    with pytest.raises(ValidationError):
        trigger(missing_data="maybe")


@pytest.mark.parametrize(
    ("policy", "trigger_verdict", "criterion_verdict"),
    [
        ("breach", Verdict.BAD, Verdict.BAD),
        ("ignore", Verdict.SKIP, Verdict.GOOD),
        ("hold", Verdict.HOLD, Verdict.HOLD),
    ],
)
def test_missing_data_policies(
    policy: str, trigger_verdict: Verdict, criterion_verdict: Verdict
) -> None:
    assert judge_trigger(trigger(missing_data=policy), None) is trigger_verdict
    assert judge_trigger(trigger(missing_data=policy), float("nan")) is trigger_verdict
    assert judge_criterion(criterion(missing_data=policy), None) is criterion_verdict


def test_a_trigger_fires_only_after_its_consecutive_breaches() -> None:
    t = trigger(consecutive=3)
    streak = Streak()
    for expected in (False, False, True, True):
        streak = observe(streak, Verdict.BAD)
        assert fires(t, streak) is expected
    assert not fires(t, observe(streak, Verdict.GOOD))


def test_no_data_neither_fires_nor_forgets() -> None:
    t = trigger(consecutive=2)
    streak = observe(Streak(), Verdict.BAD)
    streak = observe(streak, Verdict.SKIP)
    assert streak.bad == 1 and not fires(t, streak)
    streak = observe(observe(streak, Verdict.HOLD), Verdict.BAD)
    assert streak.bad == 2 and fires(t, streak)


@given(st.lists(st.sampled_from(list(Verdict)), max_size=30))
def test_streaks_count_the_latest_run(verdicts: list[Verdict]) -> None:
    streak = Streak()
    for v in verdicts:
        streak = observe(streak, v)
    counted = [v for v in verdicts if v in (Verdict.BAD, Verdict.GOOD)]
    run = 0
    for v in reversed(counted):
        if v is not (counted[-1] if counted else None):
            break
        run += 1
    if counted and counted[-1] is Verdict.BAD:
        assert (streak.bad, streak.good) == (run, 0)
    elif counted:
        assert (streak.bad, streak.good) == (0, run)
    else:
        assert (streak.bad, streak.good) == (0, 0)


def test_criterion_window_and_reason() -> None:
    c = criterion(consecutive=2, unit="", description="connection success > 99%")
    assert "not been measured" in str(criterion_hold_reason(c, None))
    one = Reading("ok", 0.995, observe(Streak(), Verdict.GOOD), NOW)
    assert not criterion_met(c, one.streak)
    assert "(1 so far)" in str(criterion_hold_reason(c, one))
    two = Reading("ok", 0.995, observe(one.streak, Verdict.GOOD), NOW)
    assert criterion_hold_reason(c, two) is None
    bad = Reading("ok", 0.9, observe(two.streak, Verdict.BAD), NOW)
    reason = str(criterion_hold_reason(c, bad))
    assert "connection success > 99%" in reason and "measured 0.9" in reason
    assert "needs > 0.99" in reason
    err = Reading("ok", None, observe(two.streak, Verdict.HOLD), NOW, "Prometheus down")
    assert "no data (Prometheus down)" in str(criterion_hold_reason(c, err))


def test_format_value() -> None:
    assert format_value(None) == "no data"
    assert format_value(0.012345) == "0.01235"
    assert format_value(512, "ms") == "512 ms"
