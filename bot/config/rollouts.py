"""Config sections of rollouts themselves: `rollouts:` and `rollback:`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.domain.durations import parse_duration


class RolloutsConfig(BaseModel):
    """Rollout behaviour."""

    model_config = ConfigDict(extra="forbid")

    plans_dir: str = "plans"
    default_plan: str | None = None
    advance_guard: str = "30s"

    @field_validator("advance_guard")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class RollbackConfig(BaseModel):
    """Rollback behaviour that is not part of a plan."""

    model_config = ConfigDict(extra="forbid")

    # Roles told loudly (mentioned in the thread) when a rollback fails, besides the owner.
    notify_roles: list[str] = Field(default_factory=list)
    # How much of a command's output is posted to Slack (the end of it).
    output_tail_chars: int = Field(default=1500, ge=100, le=2900)
