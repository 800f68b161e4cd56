"""A/B variants in plan triggers and criteria: a query with `{variant}` measured for two
variants, compared as "variant minus baseline" (realtime's error rate no worse than
control's + 0.1 points), shown on the card, in /rollout status and in the rollout report
(Slack's blocks and the shell's text)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.commands.reply import Reply
from bot.domain.actor import Actor, Via
from bot.domain.plan import validate_plan
from bot.domain.rollout import RolloutState
from bot.shell.text import text
from bot.slack.blocks import reply_blocks
from bot.slack.mrkdwn import escape
from bot.wording import waiting_line
from tests.fakes.metrics import FakeMetrics
from tests.rollback_support import FLAG, PLAN, rollbot_for, tick

ALICE = Actor("U0ALICE", Via.SLACK)
ERR = 'errors{{variant="{variant}"}}'
REALTIME, CONTROL = ERR.format(variant="realtime"), ERR.format(variant="control")
AB_PLAN = PLAN.replace(
    """    criteria:
      - name: success""",
    """    criteria:
      - name: no-worse
        description: realtime errors no worse than control + 0.1 points
        query: 'errors{variant="{variant}"}'
        compare: {variant: realtime, baseline: control}
        comparison: "<="
        threshold: 0.001
        consecutive: 2
      - name: success""",
).replace(
    """triggers:
  - name: error-rate""",
    """triggers:
  - name: realtime-much-worse
    query: 'errors{variant="{variant}"}'
    compare: {variant: realtime, baseline: control}
    comparison: ">"
    threshold: 0.01
    consecutive: 2
    missing_data: ignore
  - name: error-rate""",
)


def waiting(rb: object) -> str:
    view = rb.rollouts.status(FLAG)  # type: ignore[attr-defined]
    return text(waiting_line(view))


def test_a_variant_criterion_holds_until_realtime_is_no_worse(tmp_path: Path) -> None:
    metrics = FakeMetrics()
    clock = ManualClock()
    with rollbot_for(tmp_path, f"sqlite:///{tmp_path}/r.db", clock, metrics, AB_PLAN) as rb:
        rb.rollouts.start(FLAG, None, ALICE)
        metrics.set("conn_success", 0.999)
        metrics.set("latency_p95", 0.1)
        metrics.set(REALTIME, 0.004)
        metrics.set(CONTROL, 0.001)
        clock.advance(timedelta(hours=1))  # baked: only the criteria hold it now
        tick(rb, clock, 3)
        said = waiting(rb)
        assert "no-worse" in said and "realtime - control <= 0.001" in said
        assert "measured 0.003" in said
        metrics.set(REALTIME, 0.0015)
        tick(rb, clock, 2)
        assert "no-worse" not in waiting(rb)
        assert rb.rollouts.status(FLAG).state is RolloutState.RUNNING


def test_the_report_shows_each_variant_comparison_as_last_measured(tmp_path: Path) -> None:
    metrics = FakeMetrics()
    clock = ManualClock()
    with rollbot_for(tmp_path, f"sqlite:///{tmp_path}/r.db", clock, metrics, AB_PLAN) as rb:
        rb.rollouts.start(FLAG, None, ALICE)
        reports = rb.signoffs.reports  # type: ignore[union-attr]
        before = reports.markdown(FLAG)
        assert "## Variant comparisons" in before
        assert (
            "- realtime-much-worse (trigger): realtime - control = no data "
            "(rolls back when > 0.01: no data)"
        ) in before
        metrics.set(REALTIME, 0.004)
        metrics.set(CONTROL, 0.001)
        tick(rb, clock)
        criterion = "- no-worse (criterion): realtime - control = 0.003 (needs <= 0.001: not met)"
        trigger = (
            "- realtime-much-worse (trigger): realtime - control = 0.003 "
            "(rolls back when > 0.01: quiet)"
        )
        report = reports.markdown(FLAG)
        assert criterion in report and trigger in report
        message = reports.render(FLAG)
        assert criterion in text(message)  # the shell
        slack = json.dumps(reply_blocks(Reply.said(message, [])))
        # Slack's blocks: the same lines, `<` and `>` escaped as Slack wants them
        assert escape(criterion) in slack and escape(trigger) in slack
        metrics.set(REALTIME, 0.0015)
        tick(rb, clock)
        assert "realtime - control = 0.0005 (needs <= 0.001: met)" in reports.markdown(FLAG)


def test_a_report_without_variant_comparisons_has_no_such_section(tmp_path: Path) -> None:
    clock = ManualClock()
    with rollbot_for(tmp_path, f"sqlite:///{tmp_path}/r.db", clock, FakeMetrics(), PLAN) as rb:
        rb.rollouts.start(FLAG, None, ALICE)
        assert "Variant comparisons" not in rb.signoffs.reports.markdown(FLAG)  # type: ignore[union-attr]


def test_a_variant_trigger_rolls_back_when_realtime_is_much_worse(tmp_path: Path) -> None:
    metrics = FakeMetrics()
    clock = ManualClock()
    with rollbot_for(tmp_path, f"sqlite:///{tmp_path}/r.db", clock, metrics, AB_PLAN) as rb:
        rb.rollouts.start(FLAG, None, ALICE)
        metrics.set(REALTIME, 0.05)
        metrics.set(CONTROL, 0.001)
        tick(rb, clock, 2)
        assert rb.rollouts.status(FLAG).state is RolloutState.ROLLED_BACK


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ("query: 'errors{variant=\"{variant}\"}'", "needs compare"),
        ("query: errors\n        compare: {variant: a, baseline: b}", "needs {variant}"),
        (
            "query: 'e{variant=\"{variant}\"}'\n        compare: {variant: a, baseline: a}",
            "two different variants",
        ),
    ],
)
def test_bad_variant_conditions_are_plan_problems(condition: str, problem: str) -> None:
    import yaml

    plan = yaml.safe_load(PLAN.replace("        query: conn_success", "        " + condition))
    _plan, problems = validate_plan(plan)
    assert any(problem in str(p) for p in problems), problems
