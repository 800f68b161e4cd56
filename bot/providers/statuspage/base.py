"""The interface every status page provider implements.

The incident core drafts a `StatusUpdate` and hands it to the providers in order (primary,
then fallbacks), retrying and falling back as persisted due work; a provider only has to
publish one update once, or raise `StatusPageError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

STATUSES = ("investigating", "identified", "monitoring", "resolved")
IMPACTS = ("none", "minor", "major", "critical")
# How an affected component shows while an incident of that impact is open (Statuspage's
# component statuses); a resolved incident leaves its components operational.
COMPONENT_STATUS = {
    "none": "operational",
    "minor": "degraded_performance",
    "major": "partial_outage",
    "critical": "major_outage",
}


@dataclass(frozen=True)
class StatusUpdate:
    """One update of one incident, as customers will read it."""

    incident_key: str  # stable id, e.g. "inc-20261129-api-errors"
    title: str
    status: str  # investigating | identified | monitoring | resolved
    message: str
    impact: str  # none | minor | major | critical
    components: list[str]
    at: datetime
    # When the incident began (its declaration); the first update's time when unknown.
    started_at: datetime | None = None


class StatusPageError(Exception):
    """Publishing failed. The message is shown to people, so it never contains secrets."""


class StatusPageProvider(Protocol):
    """Publishes status updates somewhere customers can see them."""

    name: str

    def publish(self, update: StatusUpdate) -> str:
        """Publish `update`; return a reference to it (an id or a URL).

        The first update for an `incident_key` creates the incident on the page, later ones
        update it. Raises StatusPageError when the update was not published.
        """
        ...

    def check(self) -> str | None:
        """Ask the page something harmless; return what it said, None when it has no such
        question (a plain webhook). Raises StatusPageError when it does not answer."""
        ...


def check_update(update: StatusUpdate) -> None:
    """Refuse an update no page could show, before anything is sent anywhere."""
    if update.status not in STATUSES:
        raise StatusPageError(f"unknown status {update.status!r}; use one of {', '.join(STATUSES)}")
    if update.impact not in IMPACTS:
        raise StatusPageError(f"unknown impact {update.impact!r}; use one of {', '.join(IMPACTS)}")
    if not update.incident_key or len(update.incident_key) > 200:
        raise StatusPageError("the update's incident_key must be 1-200 characters")
    if update.at.tzinfo is None:
        raise StatusPageError("the update's time must be timezone-aware (UTC)")
