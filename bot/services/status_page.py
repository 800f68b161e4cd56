"""The public status page as people read it: open incidents with their history, components
and how they are doing, recently resolved incidents, and the feed of updates.

What the builtin status page provider (bot/providers/statuspage/builtin.py) published, read
back for `GET /status`, `/status.json` and `/status.atom`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.config.providers import BuiltinStatusConfig
from bot.providers.statuspage.base import COMPONENT_STATUS, IMPACTS
from bot.store import statuspage as repo
from bot.store.database import Database
from bot.store.statuspage_models import StatusIncidentRow, StatusPageUpdateRow

# The page's headline for the worst impact among open incidents (Statuspage's wording).
DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}


@dataclass(frozen=True)
class UpdateView:
    """One update in an incident's history."""

    id: int
    status: str
    impact: str
    message: str
    components: list[str]
    at: datetime


@dataclass(frozen=True)
class StatusPageIncidentView:
    """An incident on the page, with its history newest first."""

    key: str
    title: str
    status: str
    impact: str
    components: list[str]
    started_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    updates: list[UpdateView] = field(default_factory=list)


@dataclass(frozen=True)
class ComponentView:
    """A component and how it is doing now."""

    name: str
    status: str  # operational | degraded_performance | partial_outage | major_outage


@dataclass(frozen=True)
class PageView:
    """Everything the status page shows."""

    title: str
    indicator: str  # none | minor | major | critical: worst impact of the open incidents
    description: str
    components: list[ComponentView]
    active: list[StatusPageIncidentView]
    resolved: list[StatusPageIncidentView]
    updated_at: datetime | None


@dataclass(frozen=True)
class FeedEntry:
    """One update as the Atom feed carries it."""

    update: UpdateView
    incident_key: str
    title: str


def _update_view(row: StatusPageUpdateRow) -> UpdateView:
    assert row.id is not None
    return UpdateView(row.id, row.status, row.impact, row.message, list(row.components), row.at)


def _incident_view(
    row: StatusIncidentRow, history: list[StatusPageUpdateRow]
) -> StatusPageIncidentView:
    return StatusPageIncidentView(
        key=row.incident_key,
        title=row.title,
        status=row.status,
        impact=row.impact,
        components=list(row.components),
        started_at=row.started_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        updates=[_update_view(u) for u in history],
    )


def _worst(impacts: list[str]) -> str:
    return max(impacts, key=IMPACTS.index, default="none")


class PublicStatusPage:
    """Reads the builtin status page (`statuspage.providers: - type: builtin`)."""

    def __init__(self, db: Database, options: BuiltinStatusConfig) -> None:
        self.db = db
        self.options = options

    @property
    def title(self) -> str:
        """The page's title."""
        return self.options.title

    @property
    def public_url(self) -> str | None:
        """Where the page is public, when configured (else the request's own URL is used)."""
        return self.options.public_url.rstrip("/") if self.options.public_url else None

    def page(self) -> PageView:
        """The page as it stands: open incidents, components, recently resolved ones."""
        with self.db.read() as session:
            active = repo.active_incidents(session)
            resolved = repo.resolved_incidents(session, self.options.recent_resolved)
            ids = [r.id for r in active + resolved if r.id is not None]
            history = repo.updates_of(session, ids)
        active_views = [_incident_view(r, history.get(r.id or 0, [])) for r in active]
        resolved_views = [_incident_view(r, history.get(r.id or 0, [])) for r in resolved]
        indicator = _worst([i.impact for i in active_views])
        return PageView(
            title=self.options.title,
            indicator=indicator,
            description=DESCRIPTIONS[indicator],
            components=self._components(active_views),
            active=active_views,
            resolved=resolved_views,
            updated_at=max((i.updated_at for i in active_views + resolved_views), default=None),
        )

    def feed(self, limit: int = 50) -> list[FeedEntry]:
        """The newest updates, newest first."""
        with self.db.read() as session:
            rows = repo.recent_updates(session, limit)
        return [FeedEntry(_update_view(u), i.incident_key, u.title) for u, i in rows]

    def _components(self, active: list[StatusPageIncidentView]) -> list[ComponentView]:
        """Configured components in their order, then any other an open incident names."""
        names = list(dict.fromkeys(self.options.components))
        impacts: dict[str, list[str]] = {}
        for incident in active:
            # An incident that names no component may touch any of them: the page must not
            # say every component is operational while its headline says there is an outage.
            for name in incident.components or names:
                impacts.setdefault(name, []).append(incident.impact)
                if name not in names:
                    names.append(name)
        return [ComponentView(n, COMPONENT_STATUS[_worst(impacts.get(n, []))]) for n in names]
