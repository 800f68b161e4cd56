"""Config sections of the running process: `slack:`, `scheduler:` and `web:`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SlackConfig(BaseModel):
    """Slack options that are not secrets."""

    model_config = ConfigDict(extra="forbid")

    rollout_channel: str | None = None
    # Worker threads running commands', clicks' and forms' work after their ack (per
    # replica). They share the process (and Python's GIL) with the acks: a few are enough,
    # since the work mostly waits on Slack and the database.
    workers: int = Field(default=3, ge=1, le=32)


class SchedulerConfig(BaseModel):
    """How often due work is looked for."""

    model_config = ConfigDict(extra="forbid")

    tick_seconds: int = Field(default=15, ge=1, le=3600)


class WebConfig(BaseModel):
    """The HTTP server."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
