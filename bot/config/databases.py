"""The `databases:` config section: databases rollbot reads metrics from and runs runbook SQL
against, each by name. The URL (any SQLAlchemy URL: `postgresql://...`, `sqlite:///...`) is
a secret, so the config names the environment variable holding it (`url_env`)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DATABASE_NAME = r"^[a-z0-9][a-z0-9_-]*$"


def env_name(value: str) -> str:
    """An environment variable's name; catches a URL pasted where its name belongs."""
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(
            "must be the NAME of an environment variable holding the URL (letters, digits, "
            "'_'), e.g. REALTIME_DATABASE_URL; the URL itself is a secret and goes there"
        )
    return value


class DatabaseConfig(BaseModel):
    """One database: where its URL comes from."""

    model_config = ConfigDict(extra="forbid")

    url_env: str = Field(min_length=1)
    description: str | None = None

    _env = field_validator("url_env")(env_name)


class SqlMetricsConfig(BaseModel):
    """`metrics.sql`: the database `provider: sql` queries run against when they name none,
    either one of `databases:` by name or a URL of its own (`url_env`)."""

    model_config = ConfigDict(extra="forbid")

    database: str | None = Field(default=None, pattern=DATABASE_NAME)
    url_env: str | None = None

    @field_validator("url_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return env_name(value) if value is not None else None


DEFAULT_SQL_DATABASE = "default"
"""The name `metrics.sql.url_env`'s database goes by (in messages and `databases`)."""


def database_urls(
    databases: dict[str, DatabaseConfig], sql: SqlMetricsConfig | None
) -> dict[str, str]:
    """Database name -> the environment variable holding its URL (`metrics.sql.url_env`'s
    database is called `default`)."""
    named = {name: db.url_env for name, db in databases.items()}
    if sql is not None and sql.url_env:
        named.setdefault(DEFAULT_SQL_DATABASE, sql.url_env)
    return named
