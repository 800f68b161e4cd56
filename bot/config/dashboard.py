"""The `dashboard:` config section: the live dashboard at `GET /` and who may open it.

Bound to a loopback address (`web.host: 127.0.0.1`, the default) the dashboard needs no
login unless `auth` is set. Bound to anything else it is shut (403, saying how to open it)
until `auth` names where the credentials are: a bearer token (`token_env`) or HTTP Basic
(`basic: {user_env, password_env}`). The credentials themselves only ever come from those
environment variables, which count as secrets (`Settings.secret_names`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError


def _dashboard_error(message: str) -> PydanticCustomError:
    # Its own error type, so the hint points at the dashboard section.
    return PydanticCustomError("dashboard", message)


def _env_name(value: str) -> str:
    if not value or not value.replace("_", "").isalnum() or value[0].isdigit():
        raise _dashboard_error(
            f"{value!r} is not an environment variable name (the secret itself never goes "
            "in this file)"
        )
    return value


class BasicAuthConfig(BaseModel):
    """HTTP Basic: the environment variables holding the user name and the password."""

    model_config = ConfigDict(extra="forbid")

    user_env: str
    password_env: str

    @field_validator("user_env", "password_env")
    @classmethod
    def _names(cls, value: str) -> str:
        return _env_name(value)


class DashboardAuthConfig(BaseModel):
    """Exactly one way to log in: a bearer token or HTTP Basic."""

    model_config = ConfigDict(extra="forbid")

    token_env: str | None = None
    basic: BasicAuthConfig | None = None

    @field_validator("token_env")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _env_name(value)

    @model_validator(mode="after")
    def _one_way(self) -> DashboardAuthConfig:
        if (self.token_env is None) == (self.basic is None):
            raise _dashboard_error(
                "give exactly one of token_env (a bearer token, e.g. ROLLBOT_DASHBOARD_TOKEN) "
                "or basic (user_env and password_env)"
            )
        return self

    def env_names(self) -> list[str]:
        """The environment variables the credentials are read from."""
        if self.basic is not None:
            return [self.basic.user_env, self.basic.password_env]
        return [self.token_env] if self.token_env else []


class DashboardConfig(BaseModel):
    """The dashboard: who may open it, how often an open page asks for changes, and how
    much it shows."""

    model_config = ConfigDict(extra="forbid")

    auth: DashboardAuthConfig | None = None
    refresh_seconds: int = Field(default=5, ge=1, le=300)
    recent_rollouts: int = Field(default=10, ge=0, le=100)
    timeline_entries: int = Field(default=5, ge=1, le=50)
