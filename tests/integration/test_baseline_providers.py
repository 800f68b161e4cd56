"""Providers answering a baseline query as of the rollout's start: Prometheus sends the
`time=` parameter; SQL binds `:baseline_start`/`:baseline_end` (parameters, never text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from bot.domain.triggers import MetricSource
from bot.providers.databases import Databases
from bot.providers.metrics.base import MetricsProviderError, NoMetrics
from bot.providers.metrics.http_json import HttpJsonProvider
from bot.providers.metrics.prometheus import PrometheusProvider
from bot.providers.metrics.sources import MetricSources
from bot.providers.metrics.sql import SqlMetricsProvider

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def test_prometheus_evaluates_the_query_at_the_start() -> None:
    seen: list[httpx.QueryParams] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params)
        body = {"status": "success", "data": {"resultType": "scalar", "result": [0, "1204"]}}
        return httpx.Response(200, json=body)

    provider = PrometheusProvider("http://prom", transport=httpx.MockTransport(answer))
    assert provider.query_at("avg_over_time(x[7d])", START, WEEK) == 1204.0
    assert provider.query("x") == 1204.0
    assert seen[0]["query"] == "avg_over_time(x[7d])"
    assert float(seen[0]["time"]) == START.timestamp()
    assert "time" not in seen[1]  # the value now: Prometheus's own now


def test_a_provider_without_history_says_a_baseline_needs_another() -> None:
    sources = MetricSources(HttpJsonProvider("http://json/{query}", path="v"))
    with pytest.raises(MetricsProviderError, match="a baseline needs prometheus or sql"):
        sources.ask_at(MetricSource(), "x", START, WEEK)
    with pytest.raises(MetricsProviderError, match="not configured"):
        MetricSources(NoMetrics()).ask_at(MetricSource(), "x", START, WEEK)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_sql_binds_the_window_before_the_start(database_url: str) -> None:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as c:
        c.execute(sa.text("CREATE TABLE tickets (opened_at TIMESTAMP, n INTEGER)"))
        rows = [
            {"at": START - timedelta(days=8), "n": 1000},  # before the window
            {"at": START - timedelta(days=3), "n": 40},
            {"at": START - timedelta(days=1), "n": 30},
            {"at": START + timedelta(days=1), "n": 500},  # after the start
        ]
        c.execute(sa.text("INSERT INTO tickets VALUES (:at, :n)"), rows)
    engine.dispose()
    databases = Databases({"app": database_url})
    provider = SqlMetricsProvider(databases, "app")
    try:
        query = (
            "SELECT SUM(n) FROM tickets "
            "WHERE opened_at > :baseline_start AND opened_at <= :baseline_end"
        )
        naive = START.replace(tzinfo=None)  # the table's timestamps have no zone
        assert provider.query_at(query, naive, WEEK) == 70.0
        # A query without the parameters runs as written, like any other.
        assert provider.query_at("SELECT COUNT(*) FROM tickets", naive, WEEK) == 4.0
    finally:
        databases.dispose()
