"""Where each query is answered: a plan may mix providers (`provider: sql` on a trigger).

`MetricSources` holds the default provider (`metrics.provider`) and one SQL provider per
configured database; a condition's or probe's `provider:`/`database:` picks among them. A
condition whose provider is not configured is not armed (as every condition is not when
`metrics.provider` is `none`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.domain.triggers import MetricSource
from bot.providers.metrics.base import (
    HistoricalMetrics,
    LabelledMetrics,
    MetricsProvider,
    MetricsProviderError,
)


class MetricSources:
    """The default metrics provider and the SQL ones, by database."""

    def __init__(
        self,
        default: MetricsProvider,
        sql: Mapping[str, MetricsProvider] | None = None,
        sql_default: str | None = None,
        default_kind: str | None = None,
    ) -> None:
        self.default = default
        self.sql = dict(sql or {})
        self.sql_default = sql_default
        # `metrics.provider` as configured: `sql` makes SQL the default for every query.
        self.default_kind = default_kind or default.name
        # The default provider's name (`sql` when only databases answer; `none`: nothing).
        self.name = (
            "sql"
            if self.default_kind == "sql" or (default.name == "none" and self.sql)
            else default.name
        )

    @property
    def enabled(self) -> bool:
        """True when some provider can be asked."""
        return self.default.name != "none" or bool(self.sql)

    def query(self, expr: str) -> float | None:
        """The default provider's answer (a runbook's health check, the live check)."""
        return self.default.query(expr)

    def provider(self, source: MetricSource) -> MetricsProvider | None:
        """The provider that answers queries from `source`; None when it is not configured."""
        if source.provider == "sql" or (source.provider is None and self.default_kind == "sql"):
            database = source.database or self.sql_default
            return self.sql.get(database) if database else None
        if source.provider is None or source.provider == self.default.name:
            return self.default if self.default.name != "none" else None
        return None

    def configured(self, source: MetricSource) -> bool:
        """True when a query from `source` can be answered."""
        return self.provider(source) is not None

    def ask(self, source: MetricSource, expr: str) -> float | None:
        """`expr`'s value from `source`; raises MetricsProviderError when it is not there."""
        return self._answering(source).query(expr)

    def ask_at(
        self, source: MetricSource, expr: str, at: datetime, window: timedelta
    ) -> float | None:
        """`expr`'s value from `source` as of `at` (a baseline window that ended then)."""
        provider = self._answering(source)
        if not isinstance(provider, HistoricalMetrics):
            raise MetricsProviderError(
                f"the {provider.name} provider answers only the value now; a baseline needs "
                "prometheus or sql"
            )
        return provider.query_at(expr, at, window)

    def ask_labelled(self, source: MetricSource, expr: str, label: str) -> dict[str, float | None]:
        """A value per label from `source` (`per:` conditions)."""
        provider = self._answering(source)
        if not isinstance(provider, LabelledMetrics):
            raise MetricsProviderError(
                f"the {provider.name} provider answers one number per query; per: needs "
                "prometheus or sql"
            )
        return provider.query_labelled(expr, label)

    def _answering(self, source: MetricSource) -> MetricsProvider:
        """The provider for `source`; raises MetricsProviderError when it is not configured."""
        provider = self.provider(source)
        if provider is None:
            raise MetricsProviderError(f"{source.describe()} is not configured")
        return provider
