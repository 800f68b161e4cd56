"""What rollbot counts about its own work, as a port the services and adapters report to.

Counters are process-local (each replica counts what it did; Prometheus sums them). The
implementation that keeps them in a Prometheus registry is bot/web/metrics.py, built once
per Rollbot by the container; services and chat adapters only see this interface, so none
of them depends on how the numbers are exposed. Gauges (outbox, open incidents, rollouts)
are not reported here: they are read from the database at scrape time
(bot/services/operations.py), so every replica answers the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.services.rollback.report import RollbackReport


class Telemetry(Protocol):
    """Where rollbot reports each thing it counts or times."""

    def command(self, command: str, outcome: str) -> None:
        """A slash command, button click or form (`command`) ended with `outcome`: ok,
        refused, invalid, error or repeat."""

    def acked(self, seconds: float) -> None:
        """A chat request was acknowledged `seconds` after it arrived."""

    def slack_call(self, method: str, outcome: str) -> None:
        """A Slack Web API call (`chat.postMessage`) ended with `outcome`: ok, error,
        ratelimited or unreachable."""

    def trigger_evaluated(self, trigger: str, result: str) -> None:
        """One counted evaluation of a rollback trigger: bad (breached), good, skip or hold
        (no data)."""

    def rollback_finished(self, cause: str, outcome: str) -> None:
        """A rollback (`cause`: automatic or manual) ended: succeeded or failed."""

    def first_status_update(self, seconds: float) -> None:
        """An incident's first status update went out `seconds` after its declaration."""

    def digest_posted(self, digest: str) -> None:
        """A scheduled digest's slot was posted (for the digests feature to report)."""


class NullTelemetry:
    """Counts nothing: the default of services built outside the container (tests)."""

    def command(self, command: str, outcome: str) -> None:
        """Nothing is counted."""

    def acked(self, seconds: float) -> None:
        """Nothing is timed."""

    def slack_call(self, method: str, outcome: str) -> None:
        """Nothing is counted."""

    def trigger_evaluated(self, trigger: str, result: str) -> None:
        """Nothing is counted."""

    def rollback_finished(self, cause: str, outcome: str) -> None:
        """Nothing is counted."""

    def first_status_update(self, seconds: float) -> None:
        """Nothing is timed."""

    def digest_posted(self, digest: str) -> None:
        """Nothing is counted."""


class RollbackCounter:
    """A rollback listener (`RollbackService.listeners`) counting finished rollbacks."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def __call__(self, report: RollbackReport) -> None:
        """Count `report` when it is the finish of a rollback (listeners hear the start too)."""
        if not report.finished:
            return
        cause = "automatic" if report.automatic else "manual"
        self.telemetry.rollback_finished(cause, "failed" if report.failed else "succeeded")
