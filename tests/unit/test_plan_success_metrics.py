"""A plan's `success_metrics:` (the scorecard digests show): written like criteria, checked
by `rollbot plan check` with key paths and hints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.domain.plan import validate_plan

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "plans" / "realtime-features.yaml"


def _plan(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "p",
        "title": "P",
        "phases": [{"id": "a", "name": "A", "steps": [{"name": "all", "percentage": 100}]}],
        "success_metrics": metrics,
    }


def test_the_shipped_plan_has_the_seeds_technical_metrics() -> None:
    plan, problems = validate_plan(yaml.safe_load(SHIPPED.read_text()))
    assert problems == [] and plan is not None
    rules = {m.name: (m.comparison, m.threshold) for m in plan.success_metrics}
    assert rules == {
        "connection-success": (">", 0.99),
        "message-delivery": (">", 0.999),
        "latency-p50": ("<", 0.05),
        "latency-p95": ("<", 0.1),
        "reconnection-success": (">", 0.95),
        "error-rate": ("<", 0.001),
        "user-engagement": (">=", 0.2),
        "session-duration": (">=", 0.15),
        "support-tickets": ("<=", -0.1),
        "feature-adoption": (">", 0.6),
        "user-satisfaction": (">", 4.5),
    }


def test_the_shipped_plan_measures_the_seeds_business_metrics_against_a_baseline() -> None:
    plan, _ = validate_plan(yaml.safe_load(SHIPPED.read_text()))
    assert plan is not None
    relative = {
        m.name: (m.change, m.baseline.window if m.baseline else None, m.baseline_query())
        for m in plan.success_metrics
        if m.relative
    }
    assert {name: (change, window) for name, (change, window, _) in relative.items()} == {
        "user-engagement": ("+20%", "7d"),
        "session-duration": ("+15%", "7d"),
        "support-tickets": ("-10%", "7d"),
    }
    # `{window}` becomes the window in the query Prometheus evaluates at the start.
    assert all("[7d:1h]" in query for _, _, query in relative.values())


def test_a_metric_named_twice_is_a_problem_with_its_key_path() -> None:
    metric = {"name": "errors", "query": "q", "comparison": "<", "threshold": 0.1}
    _, problems = validate_plan(_plan([metric, dict(metric)]))
    assert [(p.path, p.hint) for p in problems] == [("success_metrics.1.name", "rename one")]
    assert "used twice" in problems[0].message


def test_a_bad_comparison_names_the_key() -> None:
    metric = {"name": "errors", "query": "q", "comparison": "=>", "threshold": 0.1}
    _, problems = validate_plan(_plan([metric]))
    assert [p.path for p in problems] == ["success_metrics.0.comparison"]
    assert "not a comparison" in problems[0].message
