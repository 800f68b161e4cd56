"""Against a real Prometheus (Debian's `prometheus` package) scraping, every second, a small
exporter whose error rate the test controls.

The evaluation job is driven directly with a manual clock (the bake time and evaluation
interval are the clock's), while the metric values are Prometheus's own: the test only waits
for what Prometheus needs (its first scrapes, and a fresh sample between two evaluations).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.clock import ManualClock
from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.domain.plan import validate_plan
from bot.domain.rollout import RolloutState
from bot.providers.metrics.prometheus import PrometheusProvider
from bot.services.chat import ChatPorts
from bot.slack.mrkdwn import mrkdwn
from bot.slack.notifier import SlackNotifier, build_client
from bot.wording import waiting_line
from tests import plan_support as plans
from tests.fakes.slack_api import FakeSlack, fake_slack_fixture
from tests.prometheus_support import (
    ERROR_RATIO,
    Exporter,
    binary,
    running_prometheus,
    wait_for_value,
)
from tests.rollback_support import build_rollbot

fake_slack = pytest.fixture(fake_slack_fixture)

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "plans" / "realtime-features.yaml"
CHANNEL = "C_RELEASES"
FLAG = "live-chat"

PLAN = plans.plan_yaml(
    plans.beta_and_ga(
        criteria=[
            plans.criterion(
                "error-rate-low", ERROR_RATIO, "<", 0.01, consecutive=2, missing_data="hold"
            )
        ]
    ),
    name="live-chat",
    title="Live chat",
    flag=FLAG,
    triggers=[
        plans.trigger(
            "error-rate",
            ERROR_RATIO,
            ">",
            0.05,
            description="error rate > 5%",
            consecutive=2,
            missing_data="ignore",
        ),
        plans.trigger(
            "absent-metric",
            "sum(rate(app_never_exported_total[5s]))",
            ">",
            1,
            missing_data="ignore",
        ),
    ],
    runbook=[
        plans.runbook_step("Turn the flag off", "flag"),
        plans.command_step("Drain connections", 'echo "drained $ROLLBOT_FLAG"', timeout=None),
        plans.runbook_step(
            "Verify health",
            "wait_for_health",
            query=ERROR_RATIO,
            comparison=plans.quoted("<"),
            threshold=1.01,
            interval="1s",
            timeout="30s",
        ),
    ],
)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Exporter]]:
    """A real Prometheus on 127.0.0.1 scraping the exporter every second."""
    if binary() is None:
        pytest.skip(
            "the prometheus binary is not installed (`apt-get install -y prometheus`; "
            ".ci/run installs it)"
        )
    exporter = Exporter()
    try:
        with running_prometheus(tmp_path_factory.mktemp("prometheus"), exporter) as url:
            yield url, exporter
    finally:
        exporter.close()


@pytest.fixture
def live(
    prometheus: tuple[str, Exporter], tmp_path: Path, fake_slack: FakeSlack
) -> Iterator[tuple[Rollbot, ManualClock, Exporter, PrometheusProvider]]:
    url, exporter = prometheus
    exporter.set_error_ratio(0.0)
    clock = ManualClock()
    slack_notifier = SlackNotifier(build_client("xoxb-test", fake_slack.api_url))
    rb = build_rollbot(
        tmp_path,
        f"sqlite:///{tmp_path}/rollbot.db",
        clock,
        None,  # the provider the config names: Prometheus
        plan=PLAN,
        metrics_yaml=f"metrics:\n  provider: prometheus\n  url: {url}\n  evaluation_seconds: 15\n",
        # Rollout cards and threads in (the fake) Slack; no other chat.
        chat=lambda _settings: replace(ChatPorts.none(), rollouts=slack_notifier),
        sleep=time.sleep,
    )
    assert rb.watcher.metrics.name == "prometheus"
    checker = PrometheusProvider(url, timeout=2)
    try:
        yield rb, clock, exporter, checker
    finally:
        checker.close()
        rb.db.dispose()


ALICE = Actor("U_ALICE", Via.SLACK)
TICK = timedelta(seconds=15)


def test_a_rising_error_rate_rolls_back_and_the_thread_says_so(
    live: tuple[Rollbot, ManualClock, Exporter, PrometheusProvider], fake_slack: FakeSlack
) -> None:
    rb, clock, exporter, prom = live
    rb.rollouts.start(FLAG, None, ALICE, channel_id=CHANNEL)
    wait_for_value(prom, lambda v: v < 0.01)
    clock.advance(TICK)
    assert rb.watcher.evaluate() == []
    exporter.set_error_ratio(0.30)
    breached = wait_for_value(prom, lambda v: v > 0.05)
    clock.advance(TICK)
    assert rb.watcher.evaluate() == []  # first breach of two
    assert rb.rollouts.status(FLAG).state is RolloutState.RUNNING
    time.sleep(1.1)  # a fresh scrape, so the second evaluation sees new data
    clock.advance(TICK)
    (report,) = rb.watcher.evaluate()
    assert report.automatic and not report.failed
    (fired,) = report.triggers
    assert fired.name == "error-rate"
    assert len(fired.values) == 2 and all(v is not None and v > 0.05 for v in fired.values)
    assert breached > 0.05
    doc = rb.flags.get(FLAG)
    assert doc is not None and not doc.enabled and doc.rollout_percentage == 0
    assert rb.rollouts.status(FLAG).state is RolloutState.ROLLED_BACK
    # The card's thread in (fake) Slack: why, each step, and the end.
    card = next(c for c in fake_slack.calls_to("chat.postMessage") if "thread_ts" not in c.params)
    assert card.response is not None
    thread = [
        str(c.params["text"])
        for c in fake_slack.calls_to("chat.postMessage")
        if c.params.get("thread_ts") == card.response["ts"]
    ]
    why = next(t for t in thread if "Automatic rollback of `live-chat`" in t)
    # Slack shows `&gt;` as `>`: the sentence's text is escaped like every other text now.
    assert "error-rate" in why and "&gt; 0.05" in why
    assert any("*Turn the flag off* done" in t for t in thread)
    assert any("drained live-chat" in t for t in thread)
    assert any("*Verify health* done" in t for t in thread)
    assert "Rollback of `live-chat` complete" in thread[-1]
    card_now = fake_slack.message(CHANNEL, str(card.response["ts"]))
    assert card_now is not None and "Rolled back automatically" in str(card_now["blocks"])


def test_a_healthy_rollout_advances_once_bake_time_and_criteria_hold(
    live: tuple[Rollbot, ManualClock, Exporter, PrometheusProvider],
) -> None:
    rb, clock, exporter, prom = live
    exporter.set_error_ratio(0.001)
    rb.rollouts.start(FLAG, None, ALICE, channel_id=CHANNEL)
    wait_for_value(prom, lambda v: 0 < v < 0.01)
    clock.advance(TICK)
    assert rb.watcher.evaluate() == []
    assert rb.rollouts.advance_due() == []  # criteria fine, bake time not passed
    clock.advance(timedelta(hours=1))
    assert rb.rollouts.advance_due() == []  # bake passed; the window needs 2 fresh evaluations
    waiting = mrkdwn(waiting_line(rb.rollouts.status(FLAG)))
    assert "held: success criterion *error-rate-low*" in waiting
    time.sleep(1.1)
    clock.advance(TICK)
    rb.watcher.evaluate()
    time.sleep(1.1)
    clock.advance(TICK)
    rb.watcher.evaluate()
    (outcome,) = rb.rollouts.advance_due()
    assert outcome.view.percentage == 25
    doc = rb.flags.get(FLAG)
    assert doc is not None and doc.rollout_percentage == 25
    assert rb.rollouts.status(FLAG).state is RolloutState.RUNNING


def test_the_shipped_plans_queries_answer_one_number_each(
    prometheus: tuple[str, Exporter],
) -> None:
    """Every trigger and criterion query of config/plans/realtime-features.yaml is valid
    PromQL that comes down to one number on the common metric names, and on healthy traffic
    no trigger breaches and every criterion is met. (Windows shortened from 5m to 5s.)"""
    url, exporter = prometheus
    exporter.set_error_ratio(0.0005)
    plan, problems = validate_plan(yaml.safe_load(SHIPPED.read_text(encoding="utf-8")))
    assert plan is not None, problems
    provider = PrometheusProvider(url, timeout=2)
    try:
        wait_for_value(provider, lambda v: 0 < v < 0.001)
        # The plan's Prometheus conditions (its `provider: sql` ones are Appendix B's
        # queries, run against real tables in tests/integration/test_sql_metrics.py).
        criteria = [
            c for c in (*plan.criteria_for(0), *plan.criteria_for(1)) if c.provider != "sql"
        ]
        triggers = [t for t in plan.triggers if t.provider != "sql"]
        assert len(triggers) < len(plan.triggers)  # the connection-storm trigger is SQL
        # Short windows, as the Prometheus here is seconds old (rate() over 5m would divide
        # a few seconds of increase by five minutes).
        values = {
            c.name: provider.query(c.query.replace("[5m]", "[5s]")) for c in [*triggers, *criteria]
        }
        assert all("[5m]" in c.query or "rate(" not in c.query for c in triggers)
    finally:
        provider.close()
    missing = {name: v for name, v in values.items() if v is None}
    assert not missing, missing
    for trigger in triggers:
        assert not trigger.compares_true(values[trigger.name] or 0), (trigger.name, values)
    for criterion in criteria:
        assert criterion.compares_true(values[criterion.name] or 0), (criterion.name, values)
    assert 0.05 < (values["p95-latency"] or 0) < 0.1  # histogram_quantile interpolates
    assert values["memory"] == 0.4


def test_a_baseline_is_evaluated_at_the_rollouts_start(prometheus: tuple[str, Exporter]) -> None:
    # `time()` is the evaluation time: Prometheus evaluated the query when rollbot said.
    url, _exporter = prometheus
    provider = PrometheusProvider(url, timeout=2)
    try:
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
        assert provider.query_at("time()", start, timedelta(days=7)) == start.timestamp()
        # Before Prometheus ran there are no samples: no data, not the value now.
        long_ago = start - timedelta(days=30)
        assert provider.query_at("sum(up)", long_ago, timedelta(days=7)) is None
        assert provider.query("sum(up)") == 1.0
    finally:
        provider.close()


def test_the_shipped_business_metrics_are_valid_promql_now_and_at_the_start(
    prometheus: tuple[str, Exporter],
) -> None:
    # The application's series do not exist here: no data, but Prometheus parses each query
    # (a syntax error would be refused), the baseline subqueries included.
    url, _exporter = prometheus
    plan, problems = validate_plan(yaml.safe_load(SHIPPED.read_text(encoding="utf-8")))
    assert plan is not None, problems
    business = plan.success_metrics[6:]
    assert [m.name for m in business] == [
        "user-engagement",
        "session-duration",
        "support-tickets",
        "feature-adoption",
        "user-satisfaction",
    ]
    provider = PrometheusProvider(url, timeout=2)
    start = datetime.now(UTC) - timedelta(minutes=1)
    try:
        for metric in business:
            assert provider.query(metric.query) is None, metric.name
            if metric.relative:
                assert metric.baseline is not None
                at = provider.query_at(metric.baseline_query(), start, metric.baseline.length)
                assert at is None, metric.name
    finally:
        provider.close()
