"""Wiring: builds the services from settings, for every adapter (serve, shell, tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.durations import parse_duration
from bot.providers.flags.base import FlagProvider
from bot.providers.flags.builtin import BuiltinFlagProvider
from bot.services.clock import Clock, SystemClock
from bot.services.incident_ports import Pager, StatusPageProvider
from bot.services.incident_views import IncidentChat
from bot.services.incidents import IncidentService
from bot.services.notify import NullNotifier, RolloutNotifier
from bot.services.permissions import Permissions
from bot.services.plans import PlanCatalog
from bot.services.requests import RequestLedger
from bot.services.rollouts import RolloutService
from bot.settings import Settings
from bot.store.database import Database


@dataclass
class Rollbot:
    """Everything a running rollbot has; adapters take what they need from it."""

    settings: Settings
    clock: Clock
    db: Database
    plans: PlanCatalog
    flags: FlagProvider
    rollouts: RolloutService
    requests: RequestLedger
    permissions: Permissions
    incidents: IncidentService
    # Status page providers (primary first, then fallbacks) and the pager come from the
    # `statuspage:` and `paging:` config sections; without them, status updates go to the
    # incident channel only and the declarer commands the incident.
    status_pages: list[StatusPageProvider] = field(default_factory=list)
    pager: Pager | None = None

    def set_notifier(self, notifier: RolloutNotifier) -> None:
        """Choose the chat that hears about rollouts (Slack, the shell, or none)."""
        self.rollouts.notifier = notifier

    def set_incident_chat(self, chat: IncidentChat) -> None:
        """Choose the chat where incident channels, cards and drafts live."""
        self.incidents.chat = chat


def build(settings: Settings, clock: Clock | None = None) -> Rollbot:
    """Open the database (migrating it), read the plans and build the services."""
    clock = clock or SystemClock()
    db = Database(settings.database_url)
    plans = PlanCatalog(settings.plans_dir)
    flags = BuiltinFlagProvider(db, clock)
    cfg = settings.config.rollouts
    permissions = Permissions(settings.config.role_directory())
    rollouts = RolloutService(
        db,
        plans,
        flags,
        NullNotifier(),
        clock,
        default_plan=cfg.default_plan,
        advance_guard=parse_duration(cfg.advance_guard),
        permissions=permissions,
    )
    status_pages: list[StatusPageProvider] = []
    pager: Pager | None = None
    incidents = IncidentService(
        db,
        clock,
        settings.config.incidents,
        settings.config.role_directory(),
        config_dir=settings.config_path.parent,
        pager=pager,
        status_pages=status_pages,
    )
    return Rollbot(
        settings,
        clock,
        db,
        plans,
        flags,
        rollouts,
        RequestLedger(db, clock),
        permissions,
        incidents,
        status_pages,
        pager,
    )
