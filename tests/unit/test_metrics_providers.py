"""Prometheus and HTTP JSON providers against recorded answers (httpx.MockTransport); the
real Prometheus is in tests/integration/test_prometheus.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.config.metrics import MetricsConfig
from bot.providers.metrics.base import MetricsProviderError, NoMetrics
from bot.providers.metrics.factory import build_metrics_provider
from bot.providers.metrics.http_json import HttpJsonProvider, read_path
from bot.providers.metrics.prometheus import PrometheusProvider


def prom(
    answer: Any, status: int = 200, seen: list[httpx.Request] | None = None
) -> PrometheusProvider:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(status, json=answer)

    return PrometheusProvider(
        "http://prom:9090/", token="s3cret", transport=httpx.MockTransport(handler)
    )


def vector(*values: str) -> dict[str, Any]:
    result = [{"metric": {"job": str(i)}, "value": [1700000000.0, v]} for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_prometheus_instant_query() -> None:
    seen: list[httpx.Request] = []
    assert prom(vector("0.25"), seen=seen).query("sum(rate(x[5m]))") == 0.25
    (request,) = seen
    assert request.url.path == "/api/v1/query"
    assert request.url.params["query"] == "sum(rate(x[5m]))"
    assert request.headers["Authorization"] == "Bearer s3cret"


def test_prometheus_empty_result_and_nan_are_no_data() -> None:
    assert prom(vector()).query("x") is None
    assert prom(vector("NaN")).query("x") is None
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "3"]}}
    assert prom(scalar).query("3") == 3.0


def test_prometheus_errors_raise() -> None:
    with pytest.raises(MetricsProviderError, match="2 series"):
        prom(vector("1", "2")).query("x")
    bad = {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}
    with pytest.raises(MetricsProviderError, match=r"bad_data.*parse error"):
        prom(bad, status=400).query("x[")
    with pytest.raises(MetricsProviderError, match="did not answer"):
        prom(httpx.ConnectError("refused")).query("x")
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    with pytest.raises(MetricsProviderError, match="returns a matrix"):
        prom(matrix).query("x[5m]")


def test_http_json_reads_a_path() -> None:
    doc = {"metrics": {"error_rate": 0.02, "nothing": None, "hosts": [{"cpu": "0.5"}]}}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-Api-Key"] == "k"
        return httpx.Response(200, json=doc)

    provider = HttpJsonProvider(
        "http://metrics/now", headers={"X-Api-Key": "k"}, transport=httpx.MockTransport(handler)
    )
    assert provider.query("metrics.error_rate") == 0.02
    assert provider.query("metrics.hosts.0.cpu") == 0.5
    assert provider.query("metrics.nothing") is None
    assert provider.query("metrics.absent") is None
    assert provider.query("metrics.hosts.7.cpu") is None
    with pytest.raises(MetricsProviderError, match="not a number"):
        provider.query("metrics")


def test_http_json_with_the_query_in_the_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.raw_path == b"/q/error%20rate":
            return httpx.Response(200, json={"value": 3})
        return httpx.Response(500)

    provider = HttpJsonProvider(
        "http://metrics/q/{query}", path="value", transport=httpx.MockTransport(handler)
    )
    assert provider.query("error rate") == 3.0
    with pytest.raises(MetricsProviderError, match="HTTP 500"):
        provider.query("other")
    assert read_path([1, 2], "-1") == 2.0


def test_factory_reads_secrets_from_the_environment() -> None:
    assert isinstance(build_metrics_provider(MetricsConfig(), {}), NoMetrics)
    cfg = MetricsConfig(provider="prometheus", url="http://p:9090", token_env="PROM_TOKEN")
    provider = build_metrics_provider(cfg, {"PROM_TOKEN": "t0k"})
    assert isinstance(provider, PrometheusProvider) and provider.name == "prometheus"
    cfg = MetricsConfig(provider="http_json", url="http://m", headers_env={"X-Key": "KEY"})
    assert isinstance(build_metrics_provider(cfg, {"KEY": "v"}), HttpJsonProvider)
    with pytest.raises(ValueError, match="needs a url"):
        MetricsConfig(provider="prometheus")
