"""Repository of the builtin status page and of outside status pages' incident ids."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from bot.store.statuspage_models import StatusExternalRefRow, StatusIncidentRow, StatusPageUpdateRow


def _insert(session: Session):  # type: ignore[no-untyped-def]
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING."""
    return postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def record_update(
    session: Session,
    *,
    incident_key: str,
    title: str,
    status: str,
    impact: str,
    message: str,
    components: list[str],
    at: datetime,
    started_at: datetime | None = None,
) -> tuple[StatusIncidentRow, StatusPageUpdateRow]:
    """Create or update the incident's entry and append the update to its history.

    The entry is created with ON CONFLICT DO NOTHING and then locked, so two replicas
    publishing the first update of one incident at once make one entry with two updates.
    """
    session.execute(
        _insert(session)(StatusIncidentRow)
        .values(
            incident_key=incident_key,
            title=title,
            status=status,
            impact=impact,
            components=list(components),
            started_at=started_at or at,
            updated_at=at,
            resolved_at=None,
        )
        .on_conflict_do_nothing(index_elements=["incident_key"])
    )
    incident = session.exec(
        select(StatusIncidentRow)
        .where(StatusIncidentRow.incident_key == incident_key)
        .with_for_update()
    ).one()
    incident.title = title
    incident.status = status
    incident.impact = impact
    incident.components = list(components)
    incident.updated_at = max(incident.updated_at, at)
    # A later update that is not `resolved` reopens the incident; a repeated `resolved`
    # keeps the time it was first resolved.
    incident.resolved_at = (incident.resolved_at or at) if status == "resolved" else None
    session.add(incident)
    assert incident.id is not None
    update = StatusPageUpdateRow(
        status_incident_id=incident.id,
        title=title,
        status=status,
        impact=impact,
        message=message,
        components=list(components),
        at=at,
    )
    session.add(update)
    session.flush()
    return incident, update


def active_incidents(session: Session) -> list[StatusIncidentRow]:
    """Unresolved incidents, newest first."""
    query = (
        select(StatusIncidentRow)
        .where(col(StatusIncidentRow.resolved_at).is_(None))
        .order_by(col(StatusIncidentRow.started_at).desc(), col(StatusIncidentRow.id).desc())
    )
    return list(session.exec(query))


def resolved_incidents(session: Session, limit: int) -> list[StatusIncidentRow]:
    """The most recently resolved incidents, newest first."""
    query = (
        select(StatusIncidentRow)
        .where(col(StatusIncidentRow.resolved_at).is_not(None))
        .order_by(col(StatusIncidentRow.resolved_at).desc(), col(StatusIncidentRow.id).desc())
        .limit(limit)
    )
    return list(session.exec(query))


def updates_of(session: Session, incident_ids: list[int]) -> dict[int, list[StatusPageUpdateRow]]:
    """The update history of each incident, newest first."""
    if not incident_ids:
        return {}
    query = (
        select(StatusPageUpdateRow)
        .where(col(StatusPageUpdateRow.status_incident_id).in_(incident_ids))
        .order_by(col(StatusPageUpdateRow.at).desc(), col(StatusPageUpdateRow.id).desc())
    )
    history: dict[int, list[StatusPageUpdateRow]] = defaultdict(list)
    for row in session.exec(query):
        history[row.status_incident_id].append(row)
    return history


def recent_updates(
    session: Session, limit: int
) -> list[tuple[StatusPageUpdateRow, StatusIncidentRow]]:
    """The newest updates of any incident, with their incident (for the Atom feed)."""
    query = (
        select(StatusPageUpdateRow, StatusIncidentRow)
        .join(
            StatusIncidentRow,
            col(StatusIncidentRow.id) == col(StatusPageUpdateRow.status_incident_id),
        )
        .order_by(col(StatusPageUpdateRow.at).desc(), col(StatusPageUpdateRow.id).desc())
        .limit(limit)
    )
    return [(u, i) for u, i in session.exec(query)]


def external_id(session: Session, provider: str, incident_key: str) -> str | None:
    """The outside page's id of the incident, if it was created there."""
    row = session.get(StatusExternalRefRow, (provider, incident_key))
    return row.external_id if row is not None else None


def remember_external_id(
    session: Session, provider: str, incident_key: str, external: str, at: datetime
) -> str:
    """Store the outside page's id unless one is stored already; return the stored one."""
    session.execute(
        _insert(session)(StatusExternalRefRow)
        .values(provider=provider, incident_key=incident_key, external_id=external, created_at=at)
        .on_conflict_do_nothing(index_elements=["provider", "incident_key"])
    )
    stored = external_id(session, provider, incident_key)
    assert stored is not None
    return stored
