"""A metrics provider the test sets values on: a number, None (no data) or an error."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.providers.metrics.base import MetricsProviderError


class FakeMetrics:
    """Answers each query with what the test put in `values` (missing query = no data)."""

    name = "fake"

    def __init__(self) -> None:
        self.values: dict[str, float | MetricsProviderError | None] = {}
        self.asked: list[str] = []
        # Answers as of a past moment (baselines), and what was asked that way.
        self.past: dict[tuple[str, datetime], float | MetricsProviderError | None] = {}
        self.asked_at: list[tuple[str, datetime, timedelta]] = []

    def set(self, query: str, value: float | MetricsProviderError | None) -> None:
        """What `query` answers from now on."""
        self.values[query] = value

    def query(self, expr: str) -> float | None:
        """The value set for `expr`; raises the error set for it."""
        self.asked.append(expr)
        value = self.values.get(expr)
        if isinstance(value, MetricsProviderError):
            raise value
        return value

    def set_at(self, query: str, at: datetime, value: float | MetricsProviderError | None) -> None:
        """What `query` answers as of `at` (a baseline ending then)."""
        self.past[(query, at)] = value

    def query_at(self, expr: str, at: datetime, window: timedelta) -> float | None:
        """The value set for `expr` as of `at`; raises the error set for it."""
        self.asked_at.append((expr, at, window))
        value = self.past.get((expr, at))
        if isinstance(value, MetricsProviderError):
            raise value
        return value
