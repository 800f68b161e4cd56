"""rollbot's own metrics, as `GET /metrics` serves them (Prometheus text format).

`RollbotMetrics` is the `Telemetry` (bot/services/telemetry.py) the container builds once
per Rollbot, with a registry of its own (never prometheus_client's global one: tests and
benchmarks build many rollbots in one process). Counters and histograms count what this
process did; the gauges are read from the database when Prometheus scrapes, through the
`OperationalState` reader given to `read_gauges_from`, so every replica agrees on them.

The names are an interface: users' alerts depend on them (README, "Operating rollbot").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from bot.services.operations import OperationalState

# Slack wants every request acked within 3 s.
ACK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
# The first status update is due within five minutes of the declaration.
FIRST_UPDATE_BUCKETS = (15.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0, 600.0, 1800.0)


class _DatabaseGauges(Collector):
    """The gauges, read from the database at each scrape."""

    def __init__(self, read: Callable[[], OperationalState]) -> None:
        self.read = read

    def describe(self) -> Iterable[Metric]:
        """The gauges without values (so registering does not query the database)."""
        return self._families()

    def collect(self) -> Iterable[Metric]:
        """The gauges with their values now."""
        state = self.read()
        outbox_depth, outbox_oldest, incidents, active, percentage = self._families()
        outbox_depth.add_metric(["waiting"], state.outbox_depth)
        outbox_depth.add_metric(["given_up"], state.outbox_given_up)
        outbox_oldest.add_metric([], state.outbox_oldest_seconds)
        incidents.add_metric([], state.incidents_open)
        active.add_metric([], len(state.rollout_percentages))
        for flag, value in state.rollout_percentages:
            percentage.add_metric([flag], value)
        return [outbox_depth, outbox_oldest, incidents, active, percentage]

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "rollbot_outbox_depth",
                "Chat notifications not delivered: waiting in the outbox (state=waiting) or "
                "given up on after 12 attempts (state=given_up)",
                labels=["state"],
            ),
            GaugeMetricFamily(
                "rollbot_outbox_oldest_seconds",
                "Age of the oldest notification waiting in the outbox (0 when it is empty)",
            ),
            GaugeMetricFamily("rollbot_incidents_open", "Incidents declared and not resolved"),
            GaugeMetricFamily("rollbot_rollouts_active", "Running or paused rollouts"),
            GaugeMetricFamily(
                "rollbot_rollout_percentage",
                "Current percentage of active rollouts",
                labels=["flag"],
            ),
        ]


class RollbotMetrics:
    """The counters and histograms of one Rollbot, and its `/metrics` page."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._commands = Counter(
            "rollbot_commands",
            "Slash commands, button clicks and forms handled, by outcome",
            ["command", "outcome"],
            registry=r,
        )
        self._ack = Histogram(
            "rollbot_ack_seconds",
            "Time from a chat request's arrival to its acknowledgement",
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self._slack_calls = Counter(
            "rollbot_slack_api_calls",
            "Slack Web API calls, by method and outcome",
            ["method", "outcome"],
            registry=r,
        )
        self._evaluations = Counter(
            "rollbot_trigger_evaluations",
            "Counted evaluations of rollback triggers, by result (bad: breached)",
            ["trigger", "result"],
            registry=r,
        )
        self._rollbacks = Counter(
            "rollbot_rollbacks",
            "Finished rollbacks, by cause (automatic, manual) and outcome",
            ["cause", "outcome"],
            registry=r,
        )
        self._first_update = Histogram(
            "rollbot_first_status_update_seconds",
            "Time from an incident's declaration to its first published status update",
            buckets=FIRST_UPDATE_BUCKETS,
            registry=r,
        )
        self._digests = Counter(
            "rollbot_digests_posted",
            "Scheduled digest slots posted, by digest",
            ["digest"],
            registry=r,
        )

    def read_gauges_from(self, read: Callable[[], OperationalState]) -> None:
        """Serve the gauges from `read` at every scrape (the container calls this once)."""
        self.registry.register(_DatabaseGauges(read))

    def render(self) -> bytes:
        """The Prometheus text of everything (reads the database for the gauges)."""
        page: bytes = generate_latest(self.registry)
        return page

    # -- Telemetry -------------------------------------------------------------------------

    def command(self, command: str, outcome: str) -> None:
        """Count a command, click or form."""
        self._commands.labels(command=command, outcome=outcome).inc()

    def acked(self, seconds: float) -> None:
        """Time an acknowledgement."""
        self._ack.observe(max(0.0, seconds))

    def slack_call(self, method: str, outcome: str) -> None:
        """Count a Slack Web API call."""
        self._slack_calls.labels(method=method, outcome=outcome).inc()

    def trigger_evaluated(self, trigger: str, result: str) -> None:
        """Count a trigger evaluation."""
        self._evaluations.labels(trigger=trigger, result=result).inc()

    def rollback_finished(self, cause: str, outcome: str) -> None:
        """Count a finished rollback."""
        self._rollbacks.labels(cause=cause, outcome=outcome).inc()

    def first_status_update(self, seconds: float) -> None:
        """Time an incident's first status update."""
        self._first_update.observe(max(0.0, seconds))

    def digest_posted(self, digest: str) -> None:
        """Count a posted digest slot."""
        self._digests.labels(digest=digest).inc()
