"""HTTP JSON: for systems without Prometheus, a URL whose JSON holds the values.

The query of a trigger is a dotted path into that JSON document (`metrics.error_rate`,
`services.0.p95_ms`). When the configured URL contains `{query}`, the query is put into the
URL instead and the value is read at the configured `path`.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

import httpx

from bot.providers.metrics.base import MetricsProviderError


class HttpJsonProvider:
    """Reads numbers out of a JSON document served over HTTP."""

    name = "http_json"

    def __init__(
        self,
        url: str,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.path = path
        self._client = httpx.Client(headers=headers or {}, timeout=timeout, transport=transport)

    def query(self, expr: str) -> float | None:
        """The number at the query's path; None when the path is absent or null."""
        if "{query}" in self.url:
            url, path = self.url.replace("{query}", quote(expr, safe="")), self.path or ""
        else:
            url, path = self.url, expr
        try:
            response = self._client.get(url)
        except httpx.HTTPError as exc:
            raise MetricsProviderError(f"{self._where(url)} did not answer: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise MetricsProviderError(f"{self._where(url)} answered HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise MetricsProviderError(f"{self._where(url)} did not answer JSON") from None
        return read_path(document, path)

    @staticmethod
    def _where(url: str) -> str:
        # Only scheme and host: a query string may carry a token.
        parsed = httpx.URL(url)
        return f"{parsed.scheme}://{parsed.host}"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def read_path(document: Any, path: str) -> float | None:
    """The number at a dotted path (list indexes as numbers); None when absent or null."""
    node = document
    for part in [p for p in path.split(".") if p]:
        if isinstance(node, dict):
            if part not in node:
                return None
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(node) <= index < len(node):
                return None
            node = node[index]
        else:
            return None
    if node is None:
        return None
    if isinstance(node, bool) or not isinstance(node, int | float | str):
        raise MetricsProviderError(f"the value at {path!r} is not a number: {node!r}")
    try:
        value = float(node)
    except ValueError:
        raise MetricsProviderError(f"the value at {path!r} is not a number: {node!r}") from None
    return None if math.isnan(value) else value
