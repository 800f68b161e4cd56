"""Plans with triggers, criteria and a runbook: what validates, and the problems reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.domain.message import Code, Message
from bot.domain.plan import validate_plan
from bot.domain.runbook import (
    CommandStep,
    FlagStep,
    WaitForHealthStep,
    effective_steps,
    total_budget,
)
from bot.services.rollback.events import step_shown
from bot.wording.rollback import step_line

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "plans" / "realtime-features.yaml"


def plan(**extra: Any) -> dict[str, Any]:
    return {
        "name": "p",
        "title": "P",
        "phases": [
            {"id": "a", "name": "A", "steps": [{"name": "s", "percentage": 5, "bake": "1h"}]},
            {"id": "b", "name": "B", "steps": [{"name": "t", "percentage": 100}]},
        ],
        **extra,
    }


TRIG = {"name": "err", "query": "q", "comparison": ">", "threshold": 0.01}


def problems(data: dict[str, Any]) -> list[str]:
    _plan, found = validate_plan(data)
    return [str(p) for p in found]


def test_the_shipped_plan_has_the_seed_triggers_criteria_and_runbook() -> None:
    shipped, found = validate_plan(yaml.safe_load(SHIPPED.read_text()))
    assert found == [] and shipped is not None
    assert [t.description for t in shipped.triggers] == [
        "error rate > 1%",
        "P95 latency > 500 ms",
        "connection success < 95%",
        "memory usage > 80% of the limit",
        "CPU usage > 70% of the limit",
        "WebSocket connection storm: > 50 new connections per second over the last minute",
        "state synchronisation conflicts > 1 per second",
    ]
    assert all(t.consecutive == 2 for t in shipped.triggers[:5])
    thresholds = {t.name: (t.comparison, t.threshold) for t in shipped.triggers}
    assert thresholds["error-rate"] == (">", 0.01)
    assert thresholds["connection-success"] == ("<", 0.95)
    assert [c.name for c in shipped.criteria_for(1)] == [
        "connection-success",
        "average-latency",
        "error-rate-low",
        "connection-errors-last-hour",
        "connection-latency-last-hour",
        "message-throughput-last-minute",
    ]
    assert shipped.criteria_for(0)[0].threshold == 0.55  # within 10% of the 500 ms target
    kinds = [s.kind for s in shipped.runbook]
    assert kinds == ["flag", "command", "command", "command", "sql", "wait_for_health"]
    commands = " ".join(s.run for s in shipped.runbook if isinstance(s, CommandStep))
    for seed in (
        "kubectl scale deployment/websocket-server --replicas=0",
        "git revert",
        "git push origin main",
        "kubectl set image deployment/frontend",
    ):
        assert seed in commands


def test_triggers_armed_per_phase() -> None:
    data = plan(triggers=[TRIG])
    data["phases"][1]["triggers"] = [{**TRIG, "name": "late"}]
    p, found = validate_plan(data)
    assert found == [] and p is not None
    assert [t.name for t in p.triggers_for(0)] == ["err"]
    assert [t.name for t in p.triggers_for(1)] == ["err", "late"]


def test_problems_carry_key_paths_and_hints() -> None:
    found = problems(plan(triggers=[{**TRIG, "comparison": "=="}]))
    assert any(f.startswith("triggers.0.comparison:") for f in found), found
    found = problems(plan(triggers=[{**TRIG, "threshold": "lots"}]))
    assert any("triggers.0.threshold" in f and "write a number" in f for f in found), found
    found = problems(plan(runbook=[{"name": "x", "kind": "teleport"}]))
    assert any(f.startswith("runbook.0") and "kind is one of" in f for f in found), found
    found = problems(plan(runbook=[{"name": "x", "kind": "command"}]))
    assert any("runbook.0.command.run" in f for f in found), found
    found = problems(plan(triggers=[TRIG, TRIG]))
    assert any("trigger name 'err' is used twice" in f for f in found), found


def test_the_flag_step_must_come_first_and_must_turn_the_flag_off() -> None:
    cmd = {"name": "drain", "kind": "command", "run": "true"}
    found = problems(plan(runbook=[cmd, {"name": "off", "kind": "flag"}]))
    assert any(
        f.startswith("runbook.1.kind: the flag step must be the runbook's first") for f in found
    )
    found = problems(plan(runbook=[{"name": "on", "kind": "flag", "set": {"enabled": True}}]))
    assert any("must turn the flag off" in f for f in found), found


def test_a_missing_flag_step_is_added_first() -> None:
    p, _ = validate_plan(plan(runbook=[{"name": "drain", "kind": "command", "run": "true"}]))
    assert p is not None
    steps = effective_steps(p.runbook)
    assert isinstance(steps[0], FlagStep) and steps[0].set == {
        "enabled": False,
        "rollout_percentage": 0,
    }
    assert [s.name for s in steps] == ["Turn the flag off", "drain"]
    assert step_line(step_shown(steps[1])) == Message("drain: run ", Code("true"))
    assert total_budget(steps).total_seconds() > 60


def test_wait_for_health_needs_a_url_or_a_metric() -> None:
    found = problems(plan(runbook=[{"name": "w", "kind": "wait_for_health"}]))
    assert any("give either url" in f for f in found), found
    found = problems(plan(runbook=[{"name": "w", "kind": "wait_for_health", "query": "up"}]))
    assert any("needs comparison" in f for f in found), found
    p, found = validate_plan(
        plan(
            runbook=[
                {
                    "name": "w",
                    "kind": "wait_for_health",
                    "query": "up",
                    "comparison": ">=",
                    "threshold": 1,
                }
            ]
        )
    )
    assert found == [] and p is not None
    step = p.runbook[0]
    assert (
        isinstance(step, WaitForHealthStep) and step.healthy_value(1) and not step.healthy_value(0)
    )
