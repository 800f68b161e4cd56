"""Wiring: builds the services from settings, for every adapter (serve, shell, tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.clock import Clock, SystemClock
from bot.commands.approve import report_subcommand
from bot.commands.reply import Reply
from bot.config.settings import Settings
from bot.domain.durations import parse_duration
from bot.providers.flags.base import FlagProvider
from bot.providers.flags.select import build_flag_provider
from bot.providers.metrics.factory import build_metrics_provider
from bot.providers.paging.factory import build_pager
from bot.providers.statuspage.factory import build_status_providers
from bot.services.incidents.ports import Pager, StatusPageProvider
from bot.services.incidents.rollback_link import RollbackIncidents
from bot.services.incidents.service import IncidentService
from bot.services.incidents.views import IncidentChat
from bot.services.permissions import Permissions
from bot.services.plans import PlanCatalog
from bot.services.requests import RequestLedger
from bot.services.rollback.service import RollbackService
from bot.services.rollback.watch import CriteriaHold, MetricsWatcher, RolloutNotes
from bot.services.rollouts.notifier import NullNotifier, RolloutNotifier
from bot.services.rollouts.service import RolloutService
from bot.services.signoff.feature import Signoffs, install_signoffs
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
    rollback: RollbackService
    watcher: MetricsWatcher
    incidents: IncidentService
    # Status page providers (primary first, then fallbacks) and the pager come from the
    # `statuspage:` and `paging:` config sections; without a pager, the declarer commands.
    status_pages: list[StatusPageProvider]
    pager: Pager | None
    signoffs: Signoffs | None = None
    # Extra `/rollout` subcommands from features (e.g. `report`): name -> handler(args, actor).
    rollout_subcommands: dict[str, Callable[..., Reply]] = field(default_factory=dict)

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
    flags = build_flag_provider(settings, db, clock)  # flags.provider: builtin|http|unleash
    cfg = settings.config.rollouts
    permissions = Permissions(settings.config.role_directory())
    rollouts = RolloutService(
        db,
        plans,
        flags,
        clock,
        notifier=NullNotifier(),
        default_plan=cfg.default_plan,
        advance_guard=parse_duration(cfg.advance_guard),
        permissions=permissions,
    )
    signoffs = install_signoffs(db, rollouts, permissions, clock, settings.config.signoff)
    # Rollback: metrics watched by the scheduler, success criteria as an automatic-only hold.
    metrics = build_metrics_provider(settings.config.metrics, settings.env)
    rb = settings.config.rollback
    rollback = RollbackService(
        rollouts,
        metrics,
        settings.env,
        settings.config.role_directory(),
        rb.notify_roles,
        rb.output_tail_chars,
    )
    if signoffs is not None and settings.config.metrics.provider != "none":
        # Checklist metric probes ask the same metrics provider as triggers and criteria.
        signoffs.checklists.metrics = metrics.query
    interval = timedelta(seconds=settings.config.metrics.evaluation_seconds)
    watcher = MetricsWatcher(rollback, metrics, interval)
    criteria = CriteriaHold(watcher)
    rollouts.holds.append(criteria)
    rollouts.annotators.append(RolloutNotes(criteria))
    # Providers from the `statuspage:` and `paging:` config sections.
    status_pages = build_status_providers(settings, db)
    pager = build_pager(settings)
    incidents = IncidentService(
        db,
        clock,
        settings.config.incidents,
        settings.config.role_directory(),
        config_dir=settings.config_path.parent,
        pager=pager,
        status_pages=status_pages,
    )
    rollback.listeners.append(RollbackIncidents(incidents))
    return Rollbot(
        settings,
        clock,
        db,
        plans,
        flags,
        rollouts,
        RequestLedger(db, clock),
        permissions,
        rollback,
        watcher,
        incidents,
        status_pages,
        pager,
        signoffs=signoffs,
        rollout_subcommands={"report": report_subcommand(signoffs)},
    )
