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


@dataclass(frozen=True)
class PersonPage:
    """What paging one person asks for: an incident assigned to one paging-system user or
    one escalation policy, opened once per `incident_key`."""

    incident_key: str
    title: str
    details: str
    user_id: str | None = None
    escalation_policy_id: str | None = None


@dataclass(frozen=True)
class PagedPerson:
    """A PagerDuty incident opened for one person or one escalation policy."""

    incident_id: str
    url: str | None


class PagingError(Exception):
    """The paging system refused or could not be reached. Never contains secrets."""


class Pager(Protocol):
    """Looks up the on-call engineer and pages them with a stable dedup key."""

    def on_call(self) -> OnCall | None:
        """Who is on call first for the configured escalation policy (None: nobody)."""
        ...

    def on_call_for(
        self, *, schedule_id: str | None = None, escalation_policy_id: str | None = None
    ) -> OnCall | None:
        """Who is on call now in this schedule or escalation policy (None: nobody)."""
        ...

    def user_by_email(self, email: str) -> str | None:
        """The paging system's user id for this email address, or None."""
        ...

    def page_person(self, page: PersonPage) -> PagedPerson:
        """Open an incident assigned to the page's user (or escalation policy), paging
        them; the same `incident_key` again does not open a second one."""
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
