"""A metrics provider the test sets values on: a number, None (no data) or an error."""

from __future__ import annotations

from bot.providers.metrics.base import MetricsProviderError


class FakeMetrics:
    """Answers each query with what the test put in `values` (missing query = no data)."""

    name = "fake"

    def __init__(self) -> None:
        self.values: dict[str, float | MetricsProviderError | None] = {}
        self.asked: list[str] = []

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
