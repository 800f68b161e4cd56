"""The interface every metrics provider implements."""

from __future__ import annotations

from typing import Protocol


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


class NoMetrics:
    """Used when no metrics provider is configured: nothing is ever measured."""

    name = "none"

    def query(self, expr: str) -> float | None:
        """Always no data."""
        return None
