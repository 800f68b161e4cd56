"""The `flags:` config section: which flag provider sets percentages, and its settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.domain.constraints import SEGMENT_NAME, SEGMENT_NAME_HINT, Segment

FLAG_PROVIDERS = ("builtin", "http", "unleash")


def _flags_error(message: str) -> PydanticCustomError:
    # Its own error type, so the hint points at the flags section, not at roles.
    return PydanticCustomError("flags", message)


class RemoteFlagsConfig(BaseModel):
    """What every remote flag provider needs: where it is, the token's env var, limits."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    token_env: str
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    attempts: int = Field(default=3, ge=1, le=10)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise _flags_error(f"{value!r} is not an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not value.replace("_", "").isalnum() or value[0].isdigit():
            raise _flags_error(
                f"{value!r} is not an environment variable name (the token itself never "
                "goes in this file)"
            )
        return value


class HttpFlagsConfig(RemoteFlagsConfig):
    """A remote flag API shaped like rollbot's /flags: GET and POST {base_url}/flags/{key}."""


class UnleashFlagsConfig(RemoteFlagsConfig):
    """Unleash's Admin API: the project and environment whose strategy rollbot sets."""

    project: str = "default"
    environment: str
    segment_context: str = "segment"


class FlagsConfig(BaseModel):
    """Which flag provider sets percentages, and its settings."""

    model_config = ConfigDict(extra="forbid")

    provider: str = "builtin"
    http: HttpFlagsConfig | None = None
    unleash: UnleashFlagsConfig | None = None
    # Named groups of users (Unleash constraints on context fields) that flags give
    # percentages of their own (`segment_rollouts`) or restrict to (`user_segments`).
    segments: dict[str, Segment] = Field(default_factory=dict)
    # How often each replica asks whether flags changed (one row read) to reload them.
    state_poll_seconds: float = Field(default=0.5, gt=0, le=10)

    @field_validator("segments")
    @classmethod
    def _segment_names(cls, value: dict[str, Segment]) -> dict[str, Segment]:
        for name in value:
            if not SEGMENT_NAME.match(name):
                raise _flags_error(f"invalid segment name {name!r}: {SEGMENT_NAME_HINT}")
        return value

    @field_validator("provider")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in FLAG_PROVIDERS:
            raise _flags_error(
                f"unknown flag provider {value!r}; available: {', '.join(FLAG_PROVIDERS)}"
            )
        return value

    @model_validator(mode="after")
    def _provider_configured(self) -> FlagsConfig:
        if self.provider != "builtin" and getattr(self, self.provider) is None:
            raise _flags_error(
                f"provider is {self.provider!r} but flags.{self.provider} is missing"
            )
        return self

    def remote(self) -> RemoteFlagsConfig | None:
        """The chosen remote provider's settings; None for builtin."""
        return {"http": self.http, "unleash": self.unleash}.get(self.provider)
