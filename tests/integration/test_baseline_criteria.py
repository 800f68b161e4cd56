"""Business metrics against a baseline: a criterion (or success metric) compared with its
value over a window before the rollout started. The baseline is measured once, as of the
rollout's start, kept in the database (a rebuilt rollbot reuses it), and the card, the
report and the step's hold show baseline, now and the change."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.providers.metrics.base import MetricsProviderError
from bot.services.digests.digest import ScoreVerdict
from bot.shell.render import render_card, terminal_text
from bot.shell.text import text
from bot.slack.blocks import rollout_card
from bot.wording import waiting_line
from tests.fakes.metrics import FakeMetrics
from tests.rollback_support import FLAG, PLAN, rollbot_for, tick

ALICE = Actor("U0ALICE", Via.SLACK)
ENGAGEMENT, ENGAGEMENT_BEFORE = "engagement", "avg_over_time(engagement[7d])"
TICKETS, TICKETS_BEFORE = "tickets", "avg_over_time(tickets[7d])"
BASELINE_PLAN = PLAN.replace(
    """    criteria:
      - name: success""",
    """    criteria:
      - name: engagement
        description: user engagement +20%
        query: engagement
        baseline: {window: 7d, query: "avg_over_time(engagement[{window}])"}
        change: "+20%"
        consecutive: 2
      - name: success""",
).replace(
    "runbook:\n",
    """success_metrics:
  - name: tickets
    description: support tickets -10%
    query: tickets
    baseline: {window: 7d, query: "avg_over_time(tickets[{window}])"}
    change: "-10%"
runbook:
""",
    1,
)


def _start(rb: Rollbot) -> datetime:
    rb.rollouts.start(FLAG, None, ALICE)
    return rb.rollouts.status(FLAG).started_at


def _healthy(metrics: FakeMetrics) -> None:
    metrics.set("conn_success", 0.999)
    metrics.set("latency_p95", 0.1)


def _card(rb: Rollbot) -> str:
    view = rb.rollouts.status(FLAG)
    said = text(waiting_line(view))
    notes = " | ".join(terminal_text(n) for n in view.notes)
    return f"{said} || {notes}"


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_the_baseline_is_measured_once_at_the_start_and_survives_a_rebuild(
    tmp_path: Path, database_url: str
) -> None:
    metrics = FakeMetrics()
    clock = ManualClock()
    with rollbot_for(tmp_path, database_url, clock, metrics, BASELINE_PLAN) as rb:
        started = _start(rb)
        metrics.set_at(ENGAGEMENT_BEFORE, started, 1204.0)
        metrics.set_at(TICKETS_BEFORE, started, 40.0)
        _healthy(metrics)
        metrics.set(ENGAGEMENT, 1400.0)
        metrics.set(TICKETS, 38.0)
        clock.advance(timedelta(hours=1))  # baked: only the criteria hold it now
        tick(rb, clock, 3)
        # Asked once each, as of the rollout's start, for the 7-day window.
        assert sorted(metrics.asked_at) == [
            (ENGAGEMENT_BEFORE, started, timedelta(days=7)),
            (TICKETS_BEFORE, started, timedelta(days=7)),
        ]
        card = _card(rb)
        assert "engagement" in card and "baseline 1,204, now 1,400 (+16.3%, needs +20%)" in card
        assert "tickets: baseline 40, now 38 (-5.0%, needs -10%)" in card
        rb.rollouts.advance_due()
        assert rb.rollouts.status(FLAG).step_number == 1  # held by the engagement criterion
        metrics.set(ENGAGEMENT, 1512.0)
        tick(rb, clock, 2)
        assert "engagement: baseline 1,204, now 1,512 (+25.6%, needs +20%)" in _card(rb)
        assert "held" not in _card(rb)
        # The shell's card and Slack's show the note as it is.
        view = rb.rollouts.status(FLAG)
        note = (
            "Against the baseline before the start: engagement: baseline 1,204, now 1,512 "
            "(+25.6%, needs +20%); tickets: baseline 40, now 38 (-5.0%, needs -10%)."
        )
        assert note in render_card(view)
        assert note in json.dumps(rollout_card(view))

    # A restart on the same database: the baseline is not measured again (the metrics now
    # would say something else for the start), and the comparison goes on from it.
    again = FakeMetrics()
    again.set_at(ENGAGEMENT_BEFORE, started, 5000.0)
    _healthy(again)
    again.set(ENGAGEMENT, 1512.0)
    with rollbot_for(tmp_path, database_url, clock, again, BASELINE_PLAN) as rb:
        tick(rb, clock, 2)
        assert again.asked_at == []
        assert "baseline 1,204, now 1,512 (+25.6%" in _card(rb)
        rb.rollouts.advance_due()
        assert rb.rollouts.status(FLAG).step_number == 2  # met: the step advanced by itself
        report = rb.signoffs.reports.markdown(FLAG)  # type: ignore[union-attr]
        assert "## Against the baseline" in report
        assert "- engagement: baseline 1,204, now 1,512 (+25.6%, needs +20%)" in report
        assert "- tickets: baseline 40, now no data (needs -10%)" in report  # not measured now


def test_no_baseline_holds_the_step_and_says_so(tmp_path: Path) -> None:
    metrics = FakeMetrics()
    clock = ManualClock()
    with rollbot_for(tmp_path, f"sqlite:///{tmp_path}/r.db", clock, metrics, BASELINE_PLAN) as rb:
        rb.rollouts.start(FLAG, None, ALICE)  # no data for the window before the start
        _healthy(metrics)
        metrics.set(ENGAGEMENT, 1512.0)
        clock.advance(timedelta(hours=1))
        tick(rb, clock, 3)
        card = _card(rb)
        assert "engagement: no baseline, now 1,512 (needs +20%)" in card
        rb.rollouts.advance_due()
        assert rb.rollouts.status(FLAG).step_number == 1
        assert len(metrics.asked_at) == 2  # no data is an answer: not asked again


def test_a_failed_baseline_measurement_is_tried_again(tmp_path: Path) -> None:
    metrics = FakeMetrics()
    clock = ManualClock()
    with rollbot_for(tmp_path, f"sqlite:///{tmp_path}/r.db", clock, metrics, BASELINE_PLAN) as rb:
        started = _start(rb)
        metrics.set_at(ENGAGEMENT_BEFORE, started, MetricsProviderError("Prometheus is down"))
        _healthy(metrics)
        metrics.set(ENGAGEMENT, 1512.0)
        tick(rb, clock, 1)
        assert "engagement: no baseline (Prometheus is down), now 1,512 (needs +20%)" in _card(rb)
        metrics.set_at(ENGAGEMENT_BEFORE, started, 1204.0)
        tick(rb, clock, 2)
        assert "engagement: baseline 1,204, now 1,512" in _card(rb)
        asked = [q for q, _, _ in metrics.asked_at if q == ENGAGEMENT_BEFORE]
        assert len(asked) == 2  # the failure, then the answer; never again after


def test_the_digest_scorecard_compares_a_relative_metric_with_its_baseline(
    tmp_path: Path,
) -> None:
    metrics = FakeMetrics()
    clock = ManualClock()
    digests = "digests:\n  - {name: daily, channel: C_DIGEST, cron: '0 9 * * *'}\n"
    with rollbot_for(
        tmp_path, f"sqlite:///{tmp_path}/r.db", clock, metrics, BASELINE_PLAN, digests
    ) as rb:
        started = _start(rb)
        assert rb.digests is not None
        metrics.set(TICKETS, 34.0)
        (before,) = rb.digests.show("daily").rollouts[0].scorecard
        assert before.verdict is ScoreVerdict.NO_DATA  # its baseline is not measured yet
        assert before.why == "no baseline measured before the start"
        metrics.set_at(TICKETS_BEFORE, started, 40.0)
        tick(rb, clock, 1)
        (score,) = rb.digests.show("daily").rollouts[0].scorecard
        assert score.verdict is ScoreVerdict.MET
        assert score.value == "baseline 40, now 34 (-15.0%, needs -10%)"
        metrics.set(TICKETS, 39.0)
        (score,) = rb.digests.show("daily").rollouts[0].scorecard
        assert score.verdict is ScoreVerdict.MISSED and "(-2.5%, needs -10%)" in score.value
