"""Builds the configured metrics provider, reading its secrets from the environment."""

from __future__ import annotations

from collections.abc import Mapping

from bot.config.metrics import MetricsConfig
from bot.domain.durations import parse_duration
from bot.providers.metrics.base import MetricsProvider, NoMetrics
from bot.providers.metrics.http_json import HttpJsonProvider
from bot.providers.metrics.prometheus import PrometheusProvider


def build_metrics_provider(config: MetricsConfig, env: Mapping[str, str]) -> MetricsProvider:
    """The provider `config` names (NoMetrics for `none`)."""
    timeout = parse_duration(config.timeout).total_seconds()
    if config.provider == "prometheus":
        assert config.url is not None
        token = env.get(config.token_env) if config.token_env else None
        return PrometheusProvider(config.url, token=token, timeout=timeout)
    if config.provider == "http_json":
        assert config.url is not None
        headers = {header: env.get(var, "") for header, var in config.headers_env.items()}
        if config.token_env and env.get(config.token_env):
            headers.setdefault("Authorization", f"Bearer {env[config.token_env]}")
        return HttpJsonProvider(config.url, path=config.path, headers=headers, timeout=timeout)
    return NoMetrics()
