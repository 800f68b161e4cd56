"""Builds the configured metrics providers, reading their secrets from the environment."""

from __future__ import annotations

from collections.abc import Mapping

from bot.config.databases import database_urls
from bot.config.metrics import MetricsConfig
from bot.config.settings import ConfigFile
from bot.domain.durations import parse_duration
from bot.providers.databases import Databases
from bot.providers.metrics.base import MetricsProvider, NoMetrics
from bot.providers.metrics.http_json import HttpJsonProvider
from bot.providers.metrics.prometheus import PrometheusProvider
from bot.providers.metrics.sources import MetricSources
from bot.providers.metrics.sql import SqlMetricsProvider


def build_metrics_provider(config: MetricsConfig, env: Mapping[str, str]) -> MetricsProvider:
    """The provider `config` names (NoMetrics for `none` and for `sql`, which
    `build_metric_sources` builds per database)."""
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


def build_databases(config: ConfigFile, env: Mapping[str, str]) -> Databases:
    """The config's named databases, their URLs read from the environment."""
    urls = database_urls(config.databases, config.metrics.sql)
    return Databases({name: env.get(var, "") for name, var in urls.items()})


def build_metric_sources(
    config: ConfigFile,
    env: Mapping[str, str],
    databases: Databases,
    default: MetricsProvider | None = None,
) -> MetricSources:
    """The default provider (`default` replaces the configured one: tests) and an SQL
    provider for every configured database."""
    metrics = config.metrics
    timeout = parse_duration(metrics.timeout).total_seconds()
    sql: dict[str, MetricsProvider] = {
        name: SqlMetricsProvider(databases, name, timeout) for name in databases.available
    }
    return MetricSources(
        default or build_metrics_provider(metrics, env),
        sql,
        sql_default=metrics.sql_database,
        default_kind=None if default is not None else metrics.provider,
    )
