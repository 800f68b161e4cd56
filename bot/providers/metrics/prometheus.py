"""Prometheus: instant PromQL queries over its HTTP API (`GET /api/v1/query`)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import httpx

from bot.providers.metrics.base import MetricsProviderError


class PrometheusProvider:
    """Asks Prometheus for the value of a PromQL expression now.

    A query must come down to one number: an empty vector is "no data" (the series does not
    exist yet, or nothing happened in the window), one series is its value, several series are
    an error, because a trigger compares one number (aggregate with sum/max/avg).
    """

    name = "prometheus"

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    def query(self, expr: str) -> float | None:
        """The value of `expr` now; None for an empty result or NaN."""
        return _value(self._data(expr))

    def query_at(self, expr: str, at: datetime, window: timedelta) -> float | None:
        """The value of `expr` evaluated at `at` (the API's `time=` parameter); the window is
        in the expression already (`{window}` in a baseline query)."""
        return _value(self._data(expr, at))

    def query_labelled(self, expr: str, label: str) -> dict[str, float | None]:
        """A value per series of `expr`, named by the series' `label` label."""
        data = self._data(expr)
        if data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            raise MetricsProviderError(
                f"a query with per: {label} must return an instant vector, one series per {label}"
            )
        values: dict[str, float | None] = {}
        for series in data["result"]:
            name = (series.get("metric") or {}).get(label)
            if name is None:
                raise MetricsProviderError(
                    f"a series has no {label} label: aggregate with sum by ({label}) (...)"
                )
            values[str(name)] = _number(series.get("value", [None, None])[1])
        return values

    def _data(self, expr: str, at: datetime | None = None) -> dict[str, Any]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at.timestamp():.3f}"
        try:
            response = self._client.get("/api/v1/query", params=params)
        except httpx.HTTPError as exc:
            raise MetricsProviderError(f"Prometheus did not answer: {exc}") from exc
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise MetricsProviderError(
                f"Prometheus answered HTTP {response.status_code} without JSON"
            ) from None
        if body.get("status") != "success":
            raise MetricsProviderError(
                f"Prometheus refused the query ({body.get('errorType', response.status_code)}): "
                f"{body.get('error', 'no error message')}"
            )
        data = body.get("data") or {}
        return data if isinstance(data, dict) else {}

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise MetricsProviderError(
            f"Prometheus answered a value that is not a number: {raw!r}"
        ) from None
    return None if math.isnan(value) else value


def _value(data: dict[str, Any]) -> float | None:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return _number(result[1])
    if kind == "vector" and isinstance(result, list):
        if not result:
            return None
        if len(result) > 1:
            labels = ", ".join(str(r.get("metric", {})) for r in result[:3])
            raise MetricsProviderError(
                f"the query returns {len(result)} series ({labels}...); a trigger needs one "
                "number: aggregate it, e.g. sum(...) or max(...)"
            )
        return _number(result[0].get("value", [None, None])[1])
    raise MetricsProviderError(
        f"the query returns a {kind}; write an instant query returning one number"
    )
