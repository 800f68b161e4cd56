"""Wiring of the sign-off feature: its services, and their hooks into the rollout service."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.signoff.checklists import ChecklistService
from bot.services.signoff.follow_through import FollowThrough
from bot.services.signoff.report import ReportService
from bot.services.signoff.requests import SignoffRequests
from bot.services.signoff.service import SignoffService


@dataclass
class Signoffs:
    """The sign-off chain, its requests, checklists, the post-migration tasks and the final
    report."""

    service: SignoffService
    requests: SignoffRequests
    checklists: ChecklistService
    reports: ReportService
    follow_through: FollowThrough

    @property
    def enforced(self) -> bool:
        """True when gates hold rollouts (`signoff.enforce_gates`)."""
        return self.service.config.enforce_gates
