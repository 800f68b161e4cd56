"""The `metrics:` config section: where trigger and criterion queries are answered."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.config.databases import DEFAULT_SQL_DATABASE, SqlMetricsConfig
from bot.domain.durations import parse_duration


class MetricsConfig(BaseModel):
    """Where trigger and criterion queries are answered, and how often they are asked.

    Secrets are named, not written: `token_env` and `headers_env` give the names of
    environment variables holding them.
    """

    model_config = ConfigDict(extra="forbid")

    provider: Literal["none", "prometheus", "http_json", "sql"] = "none"
    url: str | None = None
    token_env: str | None = None
    headers_env: dict[str, str] = Field(default_factory=dict)
    path: str | None = None
    timeout: str = "5s"
    evaluation_seconds: int = Field(default=15, ge=1, le=3600)
    # Where `provider: sql` queries run (and every query, with `provider: sql` above).
    sql: SqlMetricsConfig | None = None

    @field_validator("timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _url_when_provider(self) -> MetricsConfig:
        if self.provider not in ("none", "sql") and not self.url:
            raise ValueError(f"metrics.url: the {self.provider} provider needs a url")
        if self.provider == "sql" and self.sql is None:
            raise ValueError(
                "metrics.sql: the sql provider needs a database "
                "(metrics.sql.database: <name from databases:>, or metrics.sql.url_env)"
            )
        if self.sql is not None and (self.sql.database is None) == (self.sql.url_env is None):
            raise ValueError("metrics.sql: give exactly one of database or url_env")
        return self

    @property
    def sql_database(self) -> str | None:
        """The database `provider: sql` queries use when they name none."""
        if self.sql is None:
            return None
        return self.sql.database or DEFAULT_SQL_DATABASE

    def secret_names(self) -> list[str]:
        """The environment variables this config reads secrets from."""
        return [n for n in (self.token_env, *self.headers_env.values()) if n]
