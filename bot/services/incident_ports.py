"""The outside systems incidents need, as small interfaces.

Status page providers and the pager are implemented in `bot/providers/statuspage/base.py`
and `bot/providers/paging/base.py`; these definitions have the same shapes so the incident
services can be built and tested on their own. At merge the imports point at those modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class StatusUpdate:
    """One public status update of an incident."""

    incident_key: str  # stable id, e.g. "inc-20261129-api-errors"
    title: str
    status: str  # investigating | identified | monitoring | resolved
    message: str
    impact: str  # none | minor | major | critical
    components: list[str]
    at: datetime


class StatusPageError(Exception):
    """A provider could not publish; the message never contains secrets."""


class StatusPageProvider(Protocol):
    """Somewhere status updates are published (builtin page, Statuspage, webhook)."""

    name: str

    def publish(self, update: StatusUpdate) -> str:
        """Publish `update`; return a reference (id or URL). Raises StatusPageError."""
        ...


@dataclass(frozen=True)
class OnCall:
    """Who is on call for the configured escalation policy."""

    name: str
    email: str
    pagerduty_user_id: str


class PagingError(Exception):
    """The pager could not be reached or refused the request."""


class Pager(Protocol):
    """Pages people (PagerDuty Events API v2) and says who is on call."""

    def on_call(self) -> OnCall | None:
        """The on-call person for the configured escalation policy."""
        ...

    def trigger(
        self, dedup_key: str, summary: str, source: str, severity: str, details: dict[str, object]
    ) -> None:
        """Open (or re-open) the page with this dedup key."""
        ...

    def acknowledge(self, dedup_key: str) -> None:
        """Acknowledge the page."""
        ...

    def resolve(self, dedup_key: str) -> None:
        """Resolve the page."""
        ...
