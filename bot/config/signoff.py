"""Config sections of sign-off: `roles:` (who holds a role) and `signoff:` (how gates held
by those roles are enforced, reminded and escalated)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.domain.durations import parse_duration


class RoleConfig(BaseModel):
    """A named role and who holds it (Slack user ids and/or a Slack user group id)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    members: list[str] = Field(default_factory=list)
    usergroup: str | None = None
    backups: list[str] = Field(default_factory=list)


class SignoffConfig(BaseModel):
    """Sign-off gates and checklists: enforcement, reminders and escalation."""

    model_config = ConfigDict(extra="forbid")

    # Off until the roles hold real people: then gates in plans hold rollouts.
    enforce_gates: bool = True
    allow_multiple_roles: bool = False
    remind_after: str = "4h"
    remind_every: str = "1d"
    escalate_after: str | None = "2d"
    escalate_to: str = "backups"  # backups (DM the role's backups, else the channel) | channel
    group_cache: str = "5m"
    # Post-migration tasks (checklist items with `due:`): their owners are reminded this long
    # before the due date, and told once when it has passed.
    task_reminder_before: str = "1d"

    @field_validator(
        "remind_after", "remind_every", "escalate_after", "group_cache", "task_reminder_before"
    )
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("escalate_to")
    @classmethod
    def _target(cls, value: str) -> str:
        if value not in ("backups", "channel"):
            raise ValueError(f"escalate_to must be backups or channel, not {value!r}")
        return value
