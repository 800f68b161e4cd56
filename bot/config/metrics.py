"""The `metrics:` config section: where trigger and criterion queries are answered."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.durations import parse_duration


class MetricsConfig(BaseModel):
    """Where trigger and criterion queries are answered, and how often they are asked.

    Secrets are named, not written: `token_env` and `headers_env` give the names of
    environment variables holding them.
    """

    model_config = ConfigDict(extra="forbid")

    provider: Literal["none", "prometheus", "http_json"] = "none"
    url: str | None = None
    token_env: str | None = None
    headers_env: dict[str, str] = Field(default_factory=dict)
    path: str | None = None
    timeout: str = "5s"
    evaluation_seconds: int = Field(default=15, ge=1, le=3600)

    @field_validator("timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _url_when_provider(self) -> MetricsConfig:
        if self.provider != "none" and not self.url:
            raise ValueError(f"metrics.url: the {self.provider} provider needs a url")
        return self

    def secret_names(self) -> list[str]:
        """The environment variables this config reads secrets from."""
        return [n for n in (self.token_env, *self.headers_env.values()) if n]
