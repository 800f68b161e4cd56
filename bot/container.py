"""The composition root: builds rollbot's whole object graph from settings and a chat.

Every adapter (serve, shell, tests) gets its objects here; nothing is wired after `build`
returns. Adapters read the `Rollbot` it returns and never construct providers themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.clock import Clock, SystemClock
from bot.commands.approve import report_subcommand
from bot.commands.reply import Reply
from bot.config.settings import REPO_ROOT, Settings
from bot.domain.durations import parse_duration
from bot.providers.flags.base import FlagProvider
from bot.providers.flags.select import build_flag_provider
from bot.providers.metrics.base import MetricsProvider
from bot.providers.metrics.factory import build_metrics_provider
from bot.providers.paging.factory import build_pager
from bot.providers.statuspage.factory import build_status_providers
from bot.services.chat import ChatPorts
from bot.services.flags import FlagService
from bot.services.health import HealthCheck
from bot.services.incidents.ports import Pager, StatusPageProvider
from bot.services.incidents.rollback_link import RollbackIncidents
from bot.services.incidents.service import IncidentService
from bot.services.live_check import LiveCheck
from bot.services.permissions import Permissions
from bot.services.plans import PlanCatalog
from bot.services.requests import RequestLedger
from bot.services.rollback.service import RollbackService, start_thread
from bot.services.rollback.watch import CriteriaHold, MetricsWatcher, RolloutNotes
from bot.services.rollouts.service import RolloutService
from bot.services.signoff import Signoffs, SignoffService
from bot.services.signoff.checklists import ChecklistService
from bot.services.signoff.report import ReportService
from bot.services.signoff.requests import SignoffRequests
from bot.services.status_page import PublicStatusPage
from bot.store.database import Database

if TYPE_CHECKING:
    from bot.slack.chat import SlackChat


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
    health: HealthCheck
    # The builtin status page's public side (`GET /status`), when it is configured.
    public_status: PublicStatusPage | None
    templates_dir: Path
    live: LiveCheck
    flag_api: FlagService
    signoffs: Signoffs | None = None
    # Extra `/rollout` subcommands from features (e.g. `report`): name -> handler(args, actor).
    rollout_subcommands: dict[str, Callable[..., Reply]] = field(default_factory=dict)


def build(
    settings: Settings,
    clock: Clock | None = None,
    chat: ChatPorts | None = None,
    *,
    runbooks_in_threads: bool = False,
    metrics: MetricsProvider | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Rollbot:
    """Open the database (migrating it), read the plans and build the services, talking
    through `chat` (Slack's or the shell's ports; none by default).

    `runbooks_in_threads`: automatic and resumed rollbacks run their runbook on a thread of
    their own (a server: a long runbook must not stop triggers from being evaluated);
    otherwise before the call that started them returns. `metrics` replaces the configured
    metrics provider and `sleep` the wait between runbook retries (tests).
    """
    clock = clock or SystemClock()
    chat = chat or ChatPorts.none()
    db = Database(settings.database_url)
    plans = PlanCatalog(settings.plans_dir)
    flags = build_flag_provider(settings, db, clock)  # flags.provider: builtin|http|unleash
    cfg = settings.config.rollouts
    permissions = Permissions(settings.config.role_directory(), chat.groups)
    rollouts = RolloutService(
        db,
        plans,
        flags,
        clock,
        notifier=chat.rollouts,
        default_plan=cfg.default_plan,
        advance_guard=parse_duration(cfg.advance_guard),
        permissions=permissions,
    )
    # Rollback: metrics watched by the scheduler, success criteria as an automatic-only hold.
    metrics = metrics or build_metrics_provider(settings.config.metrics, settings.env)
    rb = settings.config.rollback
    rollback = RollbackService(
        rollouts,
        metrics,
        settings.env,
        settings.config.role_directory(),
        rb.notify_roles,
        rb.output_tail_chars,
        sleep,
        spawn=start_thread if runbooks_in_threads else None,
        secret_names=settings.secret_names(),
    )
    signoffs = _signoffs(settings, db, rollouts, permissions, clock, chat, metrics)
    interval = timedelta(seconds=settings.config.metrics.evaluation_seconds)
    watcher = MetricsWatcher(rollback, metrics, interval)
    criteria = CriteriaHold(watcher)
    rollouts.holds.append(criteria)
    notes = RolloutNotes(criteria)
    rollouts.annotators.append(notes)
    rollouts.preloads.append(notes.preload)
    # Providers from the `statuspage:` and `paging:` config sections.
    status_pages = build_status_providers(settings, db)
    builtin_page = settings.config.statuspage.builtin
    public_status = PublicStatusPage(db, builtin_page) if builtin_page is not None else None
    pager = build_pager(settings)
    incidents = IncidentService(
        db,
        clock,
        settings.config.incidents,
        settings.config.role_directory(),
        config_dir=settings.config_path.parent,
        pager=pager,
        status_pages=status_pages,
        chat=chat.incidents,
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
        HealthCheck(db),
        public_status,
        REPO_ROOT / "templates",
        LiveCheck(plans, metrics, pager, status_pages, flags, settings.env),
        FlagService(flags),
        signoffs=signoffs,
        rollout_subcommands={"report": report_subcommand(signoffs)},
    )


def _signoffs(
    settings: Settings,
    db: Database,
    rollouts: RolloutService,
    permissions: Permissions,
    clock: Clock,
    chat: ChatPorts,
    metrics: MetricsProvider,
) -> Signoffs:
    """The sign-off chain, its requests, checklists and report; when gates are enforced,
    the gate holds rollouts (an `AdvanceHold`), its chain is on the card, and signers are
    asked after each change."""
    config = settings.config.signoff
    # Checklist metric probes ask the same metrics provider as triggers and criteria.
    probes = metrics.query if settings.config.metrics.provider != "none" else None
    checklists = ChecklistService(db, rollouts, permissions, clock, probes)
    service = SignoffService(
        db, rollouts, permissions, checklists, clock, config, notifier=chat.signoffs
    )
    requests = SignoffRequests(service.context, service.reader)
    if config.enforce_gates:
        rollouts.holds.append(service)
        rollouts.annotators.append(service.annotate)
        rollouts.preloads.append(service.preload)
        rollouts.after_changes.append(requests.on_changes)
    return Signoffs(service, requests, checklists, ReportService(service.context))


def slack_chat(settings: Settings) -> SlackChat:
    """Slack's chat ports on one Web API client (the Bolt app shares it): cards in
    `slack.rollout_channel` (else where `/rollout start` was typed), sign-off DMs, incident
    channels, user groups cached for `signoff.group_cache`."""
    from bot.slack.chat import slack_chat as chat_on

    if not settings.slack_bot_token:
        raise ValueError("Slack needs SLACK_BOT_TOKEN")
    return chat_on(
        settings.slack_bot_token,
        settings.slack_api_url,
        rollout_channel=settings.config.slack.rollout_channel,
        group_cache_seconds=parse_duration(settings.config.signoff.group_cache).total_seconds(),
    )
