"""Incidents from outside rollbot: automatic rollbacks, PagerDuty incidents and
Prometheus Alertmanager notifications each declare an incident (or join the one open for
the same source) and add to its timeline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.actor import SCHEDULER, Actor, Via
from bot.domain.alerts import AlertGroup, severity_of
from bot.domain.errors import Conflict
from bot.domain.incident import EventKind, Impact, Severity
from bot.domain.message import Code, Message
from bot.services.incidents.card import IncidentCard
from bot.services.incidents.context import IncidentContext
from bot.services.incidents.declare import Declaring
from bot.services.incidents.response import Response
from bot.services.incidents.views import IncidentOutcome, IncidentView
from bot.store import incidents as store

ALERTMANAGER = Actor("alertmanager", Via.API)
PAGERDUTY = Actor("pagerduty", Via.API)


@dataclass(frozen=True)
class AlertResult:
    """What an Alertmanager notification did."""

    action: str  # declared | added | ignored
    incident_key: str | None


class OutsideSources:
    """Declaring and adding to incidents for rollbacks, PagerDuty and Alertmanager."""

    def __init__(
        self,
        ctx: IncidentContext,
        card: IncidentCard,
        declaring: Declaring,
        response: Response,
    ) -> None:
        self.ctx = ctx
        self.card = card
        self.declaring = declaring
        self.response = response

    def _open_for(
        self, source: str, ref: str, declare: Callable[[], IncidentOutcome]
    ) -> tuple[int, bool]:
        """The open incident of an outside source, declared now when there is none; and
        whether it was declared now. A replica that declared it a moment earlier wins and
        this one joins its incident."""
        for _ in range(2):
            with self.ctx.db.session() as s:
                existing = store.by_source(s, source, ref)
            if existing is not None and existing.id is not None:
                return existing.id, False
            try:
                return declare().view.id, True
            except Conflict:
                continue
        raise Conflict(Message(f"Could not open or find the incident of {source} ", Code(ref), "."))

    # -- automatic rollback ----------------------------------------------------------------

    def declare_for_rollback(
        self,
        rollout_id: int,
        flag_key: str,
        reason: str,
        severity: Severity = Severity.SEV2,
        actor: Actor = SCHEDULER,
    ) -> IncidentView:
        """An automatic rollback happened: declare an incident linked to the rollout, or
        add to the one already open for it."""
        ref = f"rollout:{rollout_id}"
        incident_id, _ = self._open_for(
            "rollback",
            ref,
            lambda: self.declaring.declare(
                severity,
                f"Automatic rollback of {flag_key}",
                actor,
                components=[flag_key],
                source="rollback",
                source_ref=ref,
                rollout_id=rollout_id,
                detail=reason,
            ),
        )
        text = Message(
            "Automatic rollback of ", Code(flag_key), f" (rollout #{rollout_id}): {reason}"
        )
        self.card.record(incident_id, EventKind.ROLLBACK, text, actor.id)
        return self.card.refresh(incident_id)

    def rollback_step(self, rollout_id: int, text: str | Message) -> bool:
        """Put a rollback step on the timeline of the rollout's open incident, if any."""
        with self.ctx.db.session() as s:
            row = store.by_source(s, "rollback", f"rollout:{rollout_id}")
        if row is None or row.id is None:
            return False
        self.card.record(row.id, EventKind.ROLLBACK, text)
        return True

    # -- PagerDuty -------------------------------------------------------------------------

    def declare_from_pagerduty(
        self,
        pd_incident_id: str,
        title: str,
        urgency: str = "high",
        html_url: str | None = None,
        service: str | None = None,
    ) -> IncidentView:
        """A PagerDuty incident was triggered (v3 webhook, signature already checked):
        declare one here, without paging again, or add to the one open for it."""
        ref = f"pagerduty:{pd_incident_id}"
        link = f" {html_url}" if html_url else ""
        incident_id, declared = self._open_for(
            "pagerduty",
            ref,
            lambda: self.declaring.declare(
                Severity.SEV2 if urgency == "high" else Severity.SEV3,
                title,
                PAGERDUTY,
                components=[service] if service else None,
                source="pagerduty",
                source_ref=ref,
                detail=f"PagerDuty incident {pd_incident_id}",
                page=False,
            ),
        )
        how = f"({urgency} urgency)" if declared else "triggered again"
        self.card.record(
            incident_id,
            EventKind.ALERT,
            f"PagerDuty incident {pd_incident_id} {how}: {title}{link}",
            PAGERDUTY.id,
            dedupe=None if declared else f"pd:{pd_incident_id}:{title}",
        )
        return self.card.refresh(incident_id)

    def on_pagerduty_event(
        self,
        event_type: str,
        incident_id: str,
        title: str,
        urgency: str,
        html_url: str,
        occurred_at: datetime,
    ) -> None:
        """What `POST /webhooks/pagerduty` calls (signature already verified):
        `incident.triggered` declares (or joins), acknowledged and resolved are recorded."""
        if event_type == "incident.triggered":
            self.declare_from_pagerduty(incident_id, title, urgency, html_url or None)
        else:
            self.pagerduty_event(incident_id, event_type)

    def pagerduty_event(self, pd_incident_id: str, event: str, who: str = "pagerduty") -> bool:
        """`incident.acknowledged` or `incident.resolved` from PagerDuty: on the timeline
        (an acknowledgement also acknowledges here, without acknowledging PagerDuty back)."""
        with self.ctx.db.session() as s:
            row = store.by_source(s, "pagerduty", f"pagerduty:{pd_incident_id}", active_only=False)
        if row is None or row.id is None:
            return False
        if event.endswith("acknowledged") and row.acknowledged_at is None and row.state == "active":
            self.response.acknowledge(row.id, Actor(who, Via.API), via_pager=True)
            return True
        self.card.record(row.id, EventKind.ALERT, f"PagerDuty: {event} by {who}.", PAGERDUTY.id)
        self.card.refresh(row.id)
        return True

    # -- Prometheus Alertmanager -----------------------------------------------------------

    def alert(self, group: AlertGroup) -> AlertResult:
        """A webhook notification: firing declares (or adds to) the group's incident,
        resolved adds to its timeline. A repeated notification adds nothing new."""
        with self.ctx.db.session() as s:
            existing = store.by_source(s, "alertmanager", group.ref)
        if existing is None and group.status != "firing":
            return AlertResult("ignored", None)
        cfg = self.ctx.config.alertmanager
        severity = Severity(severity_of(group, cfg.severity_map, cfg.default_severity))
        services = {a.labels.get("service") or a.labels.get("job") or "" for a in group.alerts}
        incident_id, declared = self._open_for(
            "alertmanager",
            group.ref,
            lambda: self.declaring.declare(
                severity,
                group.title,
                ALERTMANAGER,
                impact=Impact.NONE if severity is Severity.SEV4 else None,
                components=sorted(services - {""}),
                source="alertmanager",
                source_ref=group.ref,
                detail=f"Alertmanager: {group.alerts[0].name}",
            ),
        )
        action = "declared" if declared else "added"
        key = self.card.view(incident_id).key
        added = False
        for alert in group.alerts:
            added |= self.card.record(
                incident_id,
                EventKind.ALERT,
                f"{alert.status}: {alert.name} — {alert.summary}",
                ALERTMANAGER.id,
                permalink=group.external_url,
                dedupe=f"am:{alert.fingerprint}:{alert.status}:{alert.starts_at}",
            )
        if added and action == "added":
            self.card.refresh(incident_id)
        return AlertResult(action, key)
