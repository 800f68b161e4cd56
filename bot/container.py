"""The composition root: builds rollbot's whole object graph from settings and a chat.

Every adapter (serve, shell, tests) gets its objects here; nothing is wired after `build`
returns. Adapters read the `Rollbot` it returns and never construct providers themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from bot.clock import Clock, SystemClock
from bot.commands.approve import report_subcommand
from bot.commands.digest import digest_subcommand
from bot.commands.reply import Reply
from bot.commands.rollout import retro_subcommand
from bot.config.settings import Settings
from bot.config.shipped import templates_dir
from bot.domain.durations import parse_duration
from bot.providers.flags.base import FlagProvider
from bot.providers.flags.select import build_flag_provider
from bot.providers.metrics.base import MetricsProvider
from bot.providers.metrics.factory import build_databases, build_metric_sources
from bot.providers.metrics.sources import MetricSources
from bot.providers.paging.factory import build_pager
from bot.providers.statuspage.factory import build_status_providers
from bot.services.chat import ChatPorts
from bot.services.digests import DigestService
from bot.services.digests.dashboard import Dashboard
from bot.services.flags import FlagExposures, FlagService, FlagSnapshot
from bot.services.flags.notes import FlagNotes
from bot.services.flags.ofrep import Ofrep
from bot.services.flags.unleash_api import UnleashClientApi
from bot.services.health import HealthCheck, SchedulerHeartbeat
from bot.services.incidents.ports import Pager, StatusPageProvider
from bot.services.incidents.rollback_link import RollbackIncidents
from bot.services.incidents.service import IncidentService
from bot.services.live_check import LiveCheck
from bot.services.operations import Operations
from bot.services.people import People
from bot.services.permissions import Permissions
from bot.services.plans import PlanCatalog
from bot.services.requests import RequestLedger
from bot.services.rollback.backup import DataBackup
from bot.services.rollback.context import Listener
from bot.services.rollback.service import RollbackService, start_thread
from bot.services.rollback.watch import CriteriaHold, MetricsWatcher, RolloutNotes
from bot.services.rollouts.holds import AdvanceHold
from bot.services.rollouts.retrospective import RetrospectiveService
from bot.services.rollouts.service import RolloutService
from bot.services.signoff import Signoffs, SignoffService
from bot.services.signoff.checklists import ChecklistService
from bot.services.signoff.follow_through import FollowThrough
from bot.services.signoff.report import ReportService
from bot.services.signoff.requests import SignoffRequests
from bot.services.status_page import PublicStatusPage
from bot.services.telemetry import RollbackCounter
from bot.store.database import Database
from bot.store.jobs import job_store
from bot.web.metrics import RollbotMetrics

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
    status_pages: tuple[StatusPageProvider, ...]
    pager: Pager | None
    health: HealthCheck
    # The builtin status page's public side (`GET /status`), when it is configured.
    public_status: PublicStatusPage | None
    templates_dir: Path
    live: LiveCheck
    flag_api: FlagService
    # What applications' SDKs read: OFREP and Unleash's client API, over the flags in memory.
    ofrep: Ofrep
    unleash_api: UnleashClientApi
    # `rollbot_flag_exposures_total{flag,variant}`: served at /metrics.
    exposures: FlagExposures
    # rollbot's own metrics (`GET /metrics`): counters of this process, gauges read from
    # `operations` (the database) at scrape time.
    telemetry: RollbotMetrics
    operations: Operations
    # The live dashboard's data (`GET /`).
    dashboard: Dashboard
    signoffs: Signoffs | None = None
    # Scheduled digests (`digests:` in the config) and `/rollout digest`.
    digests: DigestService | None = None
    # Extra `/rollout` subcommands from features (e.g. `report`): name -> handler(args, actor).
    rollout_subcommands: dict[str, Callable[..., Reply]] = field(default_factory=dict)

    def job_store(self) -> SQLAlchemyJobStore:
        """APScheduler's job store in this rollbot's database (the scheduler's jobs)."""
        return job_store(self.settings.database_url)


def build(
    settings: Settings,
    clock: Clock | None = None,
    chat: ChatPorts | None = None,
    *,
    runbooks_in_threads: bool = False,
    metrics: MetricsProvider | None = None,
    pager: Pager | None = None,
    status_pages: Sequence[StatusPageProvider] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    telemetry: RollbotMetrics | None = None,
    flag_transport: httpx.BaseTransport | None = None,
    holds: Sequence[AdvanceHold] = (),
    rollback_listeners: Sequence[Listener] = (),
) -> Rollbot:
    """Open the database (migrating it), read the plans and build the services, talking
    through `chat` (Slack's or the shell's ports; none by default).

    `runbooks_in_threads`: automatic and resumed rollbacks run their runbook on a thread of
    their own (a server: a long runbook must not stop triggers from being evaluated);
    otherwise before the call that started them returns. `metrics` replaces the configured
    metrics provider, `pager` the configured pager, `status_pages` the configured status
    pages (primary first; `[]`: none) and `sleep` the wait between runbook and remote flag
    API retries (tests). `flag_transport` carries a remote flag provider's (http, unleash)
    requests in place of the network (tests: `httpx.MockTransport`). `holds` are asked
    before every advance after the configured ones (the data backup still last), and
    `rollback_listeners` hear every rollback start and finish after the configured ones.
    `telemetry`: rollbot's own metrics, when the chat was built counting into them already
    (see `new_telemetry` and `slack_chat`); otherwise a fresh set.

    The services' extension points (holds, annotators, rollback listeners, ...) are sealed
    before this returns: whatever else a caller needs in the graph is a parameter here.
    """
    clock = clock or SystemClock()
    telemetry = telemetry or new_telemetry()
    chat = chat or ChatPorts.none()
    db = Database(settings.database_url)
    plans = PlanCatalog(settings.plans_dir)
    # flags.provider: builtin|http|unleash
    flags = build_flag_provider(settings, db, clock, transport=flag_transport, sleep=sleep)
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
    databases = build_databases(settings.config, settings.env)
    sources = build_metric_sources(settings.config, settings.env, databases, default=metrics)
    rb = settings.config.rollback
    rollback = RollbackService(
        rollouts,
        sources,
        settings.env,
        settings.config.role_directory(),
        rb.notify_roles,
        rb.output_tail_chars,
        sleep,
        spawn=start_thread if runbooks_in_threads else None,
        secret_names=settings.secret_names(),
        databases=databases,
    )
    signoffs = _signoffs(settings, db, rollouts, permissions, clock, chat, sources, flags)
    flag_cfg = settings.config.flags
    flag_api = FlagService(
        flags,
        clock,
        flag_cfg.segments,
        FlagSnapshot(db, flag_cfg.state_poll_seconds),
        rollout_of=rollouts.has_active_rollout,
    )
    interval = timedelta(seconds=settings.config.metrics.evaluation_seconds)
    watcher = MetricsWatcher(
        rollback, sources, interval, monitored=flag_api.monitored, telemetry=telemetry
    )
    criteria = CriteriaHold(watcher)
    rollouts.holds.add(criteria)
    notes = RolloutNotes(criteria)
    rollouts.annotators.add(notes)
    rollouts.preloads.add(notes.preload)
    flag_notes = FlagNotes()  # segments; monitoring off
    rollouts.annotators.add(flag_notes)
    rollouts.preloads.add(flag_notes.preload)
    for hold in holds:
        rollouts.holds.add(hold)
    # Last of the holds: the plan's data backup runs only once nothing else holds the step.
    backup = DataBackup(rollouts, databases, settings.env, settings.secret_names(), sleep)
    rollouts.holds.add(backup)
    rollouts.after_change.add(backup.after_change)
    # Providers from the `statuspage:` and `paging:` config sections.
    pages = tuple(build_status_providers(settings, db) if status_pages is None else status_pages)
    builtin_page = settings.config.statuspage.builtin
    public_status = PublicStatusPage(db, builtin_page) if builtin_page is not None else None
    if pager is None:
        pager = build_pager(settings)
    incidents = IncidentService(
        db,
        clock,
        settings.config.incidents,
        settings.config.role_directory(),
        config_dir=settings.config_path.parent,
        pager=pager,
        status_pages=pages,
        chat=chat.incidents,
        contacts=settings.config.contact_book(),
        telemetry=telemetry,
    )
    rollback.listeners.add(RollbackIncidents(incidents))
    rollback.listeners.add(RollbackCounter(telemetry))
    for listener in rollback_listeners:
        rollback.listeners.add(listener)
    operations = Operations(db, clock)
    telemetry.read_gauges_from(operations.state)
    # Files rollbot writes (the retrospective) name people as the chat knows them.
    people = People(chat.incidents.display_name)
    retrospective = RetrospectiveService(db, clock, signoffs.checklists, people, templates_dir())
    digests = DigestService(
        db,
        clock,
        settings.config.digests,
        settings.config.role_directory(),
        settings.config.incidents.deadlines(),
        sources,
        metrics_enabled=sources.enabled,
        chat=chat.digests,
        tick_seconds=settings.config.scheduler.tick_seconds,
        telemetry=telemetry,
    )
    # A rollout's flag change commits with the rollout: reload the flags in memory then
    # (once for a scheduler tick's whole batch).
    rollouts.after_changes.add(lambda _outcomes: flag_api.changed())
    exposures = FlagExposures()
    # SDK exposures are served at /metrics with rollbot's own metrics.
    telemetry.registry.register(exposures.counter)
    # Nothing is added to the graph once it is returned.
    rollouts.seal()
    rollback.seal()
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
        pages,
        pager,
        HealthCheck(db, SchedulerHeartbeat(clock)),
        public_status,
        templates_dir(),
        LiveCheck(plans, sources, pager, pages, flags, settings.env),
        flag_api,
        Ofrep(flag_api, exposures),
        UnleashClientApi(flag_api, exposures),
        exposures,
        telemetry,
        operations,
        Dashboard(
            db,
            clock,
            settings.config.role_directory(),
            deadlines=settings.config.incidents.deadlines(),
            recent_rollouts=settings.config.dashboard.recent_rollouts,
            timeline_entries=settings.config.dashboard.timeline_entries,
            metrics_watched=watcher.enabled,
        ),
        signoffs=signoffs,
        digests=digests,
        rollout_subcommands={
            "report": report_subcommand(signoffs),
            "retro": retro_subcommand(retrospective.render),
            "digest": digest_subcommand(digests),
        },
    )


def _signoffs(
    settings: Settings,
    db: Database,
    rollouts: RolloutService,
    permissions: Permissions,
    clock: Clock,
    chat: ChatPorts,
    metrics: MetricSources,
    flags: FlagProvider,
) -> Signoffs:
    """The sign-off chain, its requests, checklists, post-migration tasks and report; when
    gates are enforced, the gate holds rollouts (an `AdvanceHold`), its chain is on the
    card, and signers are asked after each change."""
    config = settings.config.signoff
    # Checklist metric probes ask the same metrics provider as triggers and criteria.
    probes = (lambda expr, source: metrics.ask(source, expr)) if metrics.enabled else None
    # "Remove feature flags" is done when the flag system no longer has the flag.
    checklists = ChecklistService(
        db, rollouts, permissions, clock, probes, lambda key: flags.get(key) is not None
    )
    service = SignoffService(
        db, rollouts, permissions, checklists, clock, config, notifier=chat.signoffs
    )
    requests = SignoffRequests(service.context, service.reader)
    # Post-migration tasks are followed whether gates are enforced or not.
    follow_through = FollowThrough(service.context)
    rollouts.annotators.add(follow_through.annotate)
    if config.enforce_gates:
        rollouts.holds.add(service.reader)
        rollouts.annotators.add(service.reader.annotate)
        rollouts.preloads.add(service.preload)
        rollouts.after_changes.add(requests.on_changes)
    return Signoffs(service, requests, checklists, ReportService(service.context), follow_through)


def new_telemetry() -> RollbotMetrics:
    """A fresh set of rollbot's own metrics, on a registry of its own. Build it first when
    the chat must count into it too (Slack's API calls): pass it to `slack_chat` and
    `build`."""
    return RollbotMetrics()


def slack_chat(settings: Settings, telemetry: RollbotMetrics | None = None) -> SlackChat:
    """Slack's chat ports on one Web API client (the Bolt app shares it): cards in
    `slack.rollout_channel` (else where `/rollout start` was typed), sign-off DMs, incident
    channels, user groups cached for `signoff.group_cache`. Its Web API calls are counted
    in `telemetry` (give the same to `build`)."""
    from bot.slack.chat import slack_chat as chat_on

    if not settings.slack_bot_token:
        raise ValueError("Slack needs SLACK_BOT_TOKEN")
    return chat_on(
        settings.slack_bot_token,
        settings.slack_api_url,
        rollout_channel=settings.config.slack.rollout_channel,
        group_cache_seconds=parse_duration(settings.config.signoff.group_cache).total_seconds(),
        templates_dir=templates_dir(),
        telemetry=telemetry,
    )
