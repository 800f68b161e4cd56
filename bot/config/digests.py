"""The `digests:` config section: scheduled summaries posted to channels.

Each digest has a name, a channel, a five-field cron expression and an IANA timezone. The
cron expression is read by APScheduler's `CronTrigger` (the one that computes the slots), so
what `rollbot config check` accepts is exactly what the scheduler can run.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

CRON_HINT = (
    'write five fields, minute hour day-of-month month day-of-week, e.g. "0 9 * * MON-FRI" '
    '(09:00 on weekdays) or "30 8 * * *" (08:30 every day)'
)


def _digest_error(message: str, hint: str) -> PydanticCustomError:
    # Its own error type, and the hint in the context: the config loader shows it.
    return PydanticCustomError("digests", message, {"hint": hint})


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """The trigger of a five-field cron expression in `timezone` (ValueError when either
    is not valid)."""
    # Imported here: `plan check` and `rollbot --help` load the config without the scheduler.
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"{expression!r} has {len(fields)} field(s), a cron expression has 5")
    return CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))


class DigestConfig(BaseModel):
    """One scheduled digest."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    channel: str = Field(min_length=1, max_length=80)
    cron: str
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise _digest_error(
                f"unknown timezone {value!r}",
                hint + "use an IANA name such as Europe/Berlin, America/New_York or UTC",
            ) from None
        return value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        try:
            cron_trigger(value, "UTC")
        except ValueError as exc:
            raise _digest_error(f"invalid cron expression: {exc}", CRON_HINT) from None
        return value

    def trigger(self) -> CronTrigger:
        """The digest's schedule."""
        return cron_trigger(self.cron, self.timezone)


def duplicate_names(digests: list[DigestConfig]) -> list[tuple[int, int]]:
    """(index, index of the first use) of each digest whose name was used before."""
    seen: dict[str, int] = {}
    found: list[tuple[int, int]] = []
    for index, digest in enumerate(digests):
        if digest.name in seen:
            found.append((index, seen[digest.name]))
        seen.setdefault(digest.name, index)
    return found
