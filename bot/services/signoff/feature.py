"""Wiring of the sign-off feature: its services, and their hooks into the rollout service."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.config.signoff import SignoffConfig
from bot.services.permissions import Permissions
from bot.services.rollouts.service import RolloutService
from bot.services.signoff.checklists import ChecklistService
from bot.services.signoff.ports import NullSignoffNotifier, SignoffNotifier
from bot.services.signoff.report import ReportService
from bot.services.signoff.requests import SignoffRequests
from bot.services.signoff.service import SignoffService
from bot.store.database import Database


@dataclass
class Signoffs:
    """The sign-off chain, its requests, checklists and the final report."""

    service: SignoffService
    requests: SignoffRequests
    checklists: ChecklistService
    reports: ReportService

    @property
    def enforced(self) -> bool:
        """True when gates hold rollouts (`signoff.enforce_gates`)."""
        return self.service.config.enforce_gates


def install_signoffs(
    db: Database,
    rollout_service: RolloutService,
    permissions: Permissions,
    clock: Clock,
    config: SignoffConfig,
    *,
    notifier: SignoffNotifier | None = None,
) -> Signoffs:
    """Build the sign-off services (`notifier` reaches signers; none: only the log); when
    gates are enforced, register the gate as an `AdvanceHold`, the chain on the card, and
    the asking of signers after each change."""
    checklists = ChecklistService(db, rollout_service, permissions, clock)
    service = SignoffService(
        db,
        rollout_service,
        permissions,
        checklists,
        clock,
        config,
        notifier=notifier or NullSignoffNotifier(),
    )
    requests = SignoffRequests(service.context, service.reader)
    if config.enforce_gates:
        rollout_service.holds.append(service)
        rollout_service.annotators.append(service.annotate)
        rollout_service.after_change.append(requests.on_change)
    return Signoffs(service, requests, checklists, ReportService(service.context))
