"""The interface of a paging system (PagerDuty): who is on call, and paging them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SEVERITIES = ("critical", "error", "warning", "info")


@dataclass(frozen=True)
class OnCall:
    """The person on call, as the paging system knows them."""

    name: str
    email: str
    pagerduty_user_id: str


class PagingError(Exception):
    """The paging system refused or could not be reached. Never contains secrets."""


class Pager(Protocol):
    """Looks up the on-call engineer and pages them with a stable dedup key."""

    def on_call(self) -> OnCall | None:
        """Who is on call first for the configured escalation policy (None: nobody)."""
        ...

    def trigger(
        self,
        dedup_key: str,
        summary: str,
        source: str,
        severity: str,
        details: dict[str, object],
    ) -> None:
        """Open (or re-trigger) the alert `dedup_key`, paging whoever is on call."""
        ...

    def acknowledge(self, dedup_key: str) -> None:
        """Mark the alert acknowledged: someone is on it, stop escalating."""
        ...

    def resolve(self, dedup_key: str) -> None:
        """Close the alert."""
        ...
