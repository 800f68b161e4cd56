"""Automatic rollbacks open incidents; every rollback's steps land on the incident timeline."""

from __future__ import annotations

from bot.services.incidents import IncidentService
from bot.services.rollback_report import RollbackReport


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
                    f"Rollback of `{report.flag_key}` started by {report.actor_id}: "
                    f"{report.reason} (flag turned off)",
                )
            return
        for step in report.steps:
            outcome = "ok" if step.ok else f"FAILED: {step.error or 'see the rollout thread'}"
            self.incidents.rollback_step(
                report.rollout_id,
                f"Rollback step *{step.name}* ({step.kind}) {outcome} in {step.duration_s:.1f} s",
            )
        if report.failed:
            final = f"Rollback of `{report.flag_key}` FAILED at step {report.failed_step}."
        else:
            final = f"Rollback of `{report.flag_key}` finished: every runbook step succeeded."
        self.incidents.rollback_step(report.rollout_id, final)
