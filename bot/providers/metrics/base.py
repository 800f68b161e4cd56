"""The interface every metrics provider implements."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable


class MetricsProviderError(Exception):
    """The metrics system failed or answered something unusable (not: "no data")."""


class MetricsProvider(Protocol):
    """Answers one query with one number."""

    name: str

    def query(self, expr: str) -> float | None:
        """The current value of `expr`; None when the system has no data for it.

        Raises MetricsProviderError when the system cannot be reached or the answer cannot be
        read, so callers can tell an outage from a quiet metric.
        """
        ...


@runtime_checkable
class LabelledMetrics(Protocol):
    """A provider that can also answer a value per label (`per:` on a condition)."""

    def query_labelled(self, expr: str, label: str) -> dict[str, float | None]:
        """Label value -> the current value of `expr` for it (None: no data for it)."""
        ...


@runtime_checkable
class HistoricalMetrics(Protocol):
    """A provider that can answer a query as of a past moment (a baseline window that ended
    when the rollout started)."""

    def query_at(self, expr: str, at: datetime, window: timedelta) -> float | None:
        """The value of `expr` as of `at`, for the `window` that ended then."""
        ...


class NoMetrics:
    """Used when no metrics provider is configured: nothing is ever measured."""

    name = "none"

    def query(self, expr: str) -> float | None:
        """Always no data."""
        return None
