"""Automatic rollbacks open incidents; every rollback's steps land on the incident timeline."""

from __future__ import annotations

from bot.domain.message import Code, Message, Strong
from bot.services.incidents.service import IncidentService
from bot.services.rollback.report import RollbackReport


class RollbackIncidents:
    """A `RollbackService` listener: an automatic rollback declares an incident linked to
    the rollout (or joins the one open for it); each step's result and the outcome of any
    rollback of that rollout go on the incident's timeline."""

    def __init__(self, incidents: IncidentService) -> None:
        self.incidents = incidents

    def __call__(self, report: RollbackReport) -> None:
        """Called when a rollback starts and when it finishes."""
        if not report.finished:
            if report.automatic:
                self.incidents.declare_for_rollback(
                    report.rollout_id, report.flag_key, report.reason
                )
            else:
                self.incidents.rollback_step(
                    report.rollout_id,
                    Message(
                        "Rollback of ",
                        Code(report.flag_key),
                        f" started by {report.actor_id}: {report.reason} (flag turned off)",
                    ),
                )
            return
        lines = [
            Message(
                "Rollback step ",
                Strong(step.name),
                f" ({step.kind}) ",
                "ok" if step.ok else f"FAILED: {step.error or 'see the rollout thread'}",
                f" in {step.duration_s:.1f} s",
            )
            for step in report.steps
        ]
        flag = Code(report.flag_key)
        if report.failed:
            lines.append(Message("Rollback of ", flag, f" FAILED at step {report.failed_step}."))
        else:
            lines.append(Message("Rollback of ", flag, " finished: every runbook step succeeded."))
        if not self.incidents.rollback_step(report.rollout_id, lines[0]) and report.automatic:
            # No start report was heard (a rollback resumed after a restart): the automatic
            # rollback still gets its incident.
            self.incidents.declare_for_rollback(report.rollout_id, report.flag_key, report.reason)
            self.incidents.rollback_step(report.rollout_id, lines[0])
        for line in lines[1:]:
            self.incidents.rollback_step(report.rollout_id, line)
