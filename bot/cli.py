"""The `rollbot` command: serve, shell, config check, plan check, db upgrade."""

from __future__ import annotations

import atexit
import contextlib
import errno
import getpass
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

# Nothing of rollbot is imported here: each command imports what it uses, so `rollbot
# --help` loads typer alone and `config check` / `plan check` the config and plans, not the
# object graph (the container, Slack, the web server, the database, the scheduler).
if TYPE_CHECKING:
    import uvicorn

    from bot.config.files import FileProblem
    from bot.config.settings import Settings
    from bot.container import Rollbot
    from bot.domain.plan import PlanProblem
    from bot.services.live_check import Finding
    from bot.slack.app import RollbotApp

# Plain help text: typer's rich formatting imports rich and markdown-it, which took longer
# than the rest of `rollbot --help` together.
app = typer.Typer(
    help="rollbot: phased feature-flag rollouts from Slack.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
config_app = typer.Typer(
    help="Configuration commands.", no_args_is_help=True, rich_markup_mode=None
)
plan_app = typer.Typer(help="Plan commands.", no_args_is_help=True, rich_markup_mode=None)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(config_app, name="config")
app.add_typer(plan_app, name="plan")
app.add_typer(db_app, name="db")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: ROLLBOT_CONFIG, "
        "config/rollbot.yaml, config/rollbot.example.yaml).",
    ),
]


def _settings_or_exit(config: Path | None) -> Settings:
    from bot.config.settings import ConfigError, load_settings

    try:
        return load_settings(config_path=config)
    except ConfigError as exc:
        typer.echo("rollbot cannot start: the configuration has problems:", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2) from None


@contextlib.contextmanager
def _database_or_exit(settings: Settings) -> Iterator[None]:
    """Say plainly why the database cannot be opened (and exit 2), never with a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.domain.secrets import Redactor

    try:
        yield
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        redact = Redactor(settings.secret_values())
        typer.echo("rollbot cannot start: the database (DATABASE_URL) cannot be opened:", err=True)
        typer.echo(f"  {redact(first)}", err=True)
        typer.echo(
            "  hint: check DATABASE_URL (sqlite:///path.db, or postgresql://user@host:5432/db) "
            "and that the server is running and reachable",
            err=True,
        )
        raise typer.Exit(2) from None


def _plans_or_exit(settings: Settings) -> None:
    from bot.services.plans import PlanCatalog

    catalog = PlanCatalog(settings.plans_dir)
    if catalog.problems:
        typer.echo("rollbot cannot start: plan files have problems:", err=True)
        for problem in catalog.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2)


def _listen_or_exit(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), or exit 2 naming `--port`."""
    try:
        listening = socket.create_server((host, port), reuse_port=False)
    except OSError as exc:
        what = "is taken" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
        typer.echo(
            f"rollbot cannot start: port {port} on {host} {what}. Pick another with "
            "`--port N` (or `--port 0` for a free one), or set web.port in the config.",
            err=True,
        )
        raise typer.Exit(2) from None
    if listening.family in (socket.AF_INET, socket.AF_INET6):
        # Accepted connections inherit this. asyncio sets it only on sockets whose protocol
        # number says TCP, and create_server's say 0: without it every keep-alive response
        # waited ~40 ms for the client's delayed ACK (Nagle).
        listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listening.set_inheritable(True)
    return listening


def _login_name() -> str:
    """Who is at the terminal, as a shell user name (letters, digits, `._-@+`)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, no LOGNAME/USER
        return "operator"
    cleaned = "".join(c for c in name if c.isalnum() or c in "._-@+")[:64]
    return cleaned or "operator"


def _url(listening: socket.socket) -> str:
    host, port = listening.getsockname()[:2]
    return f"http://{host}:{port}"


def _server(config: uvicorn.Config) -> uvicorn.Server:
    """uvicorn, minus re-raising SIGTERM/SIGINT once it has stopped gracefully: that kills
    the process before `serve` closes the Slack socket, the scheduler and the database."""
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            """uvicorn's signal handling, the signals it caught being handled once stopped."""
            with super().capture_signals():
                yield
                self._captured_signals.clear()

    return _Server(config)


def _web_server(
    rollbot: Rollbot, host: str, port: int, slack_app: RollbotApp | None = None
) -> uvicorn.Server:
    """The web app; with `slack_app`, it serves Slack's events over HTTP too."""
    import uvicorn

    from bot.logs import UVICORN_LOGGERS, redact_logs
    from bot.web.app import create_app

    config = uvicorn.Config(
        create_app(rollbot, slack_app, host=host), host=host, port=port, log_level="warning"
    )
    # Building the Config installed uvicorn's own log handlers: mask secrets in them too.
    redact_logs(rollbot.settings.secret_values(), UVICORN_LOGGERS)
    return _server(config)


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="HTTP port (default from config, 3000).")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    config: ConfigOption = None,
) -> None:
    """Serve Slack (HTTP or Socket Mode), the flag API, health and metrics."""
    from bot.logs import redact_logs

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings_or_exit(config)
    redact_logs(settings.secret_values())
    _plans_or_exit(settings)
    from bot.container import build, new_telemetry, slack_chat
    from bot.providers.runbook.children import stop_all as stop_runbook_commands

    # However Python exits (an uncaught error included), no runbook command outlives it.
    atexit.register(stop_runbook_commands)
    # rollbot's own metrics, built first so that Slack's client counts its calls into them.
    telemetry = new_telemetry()
    wants_slack = settings.slack_socket_mode or settings.slack_http
    slack = slack_chat(settings, telemetry) if wants_slack else None
    with _database_or_exit(settings):
        rollbot = build(
            settings,
            chat=slack.ports if slack else None,
            runbooks_in_threads=True,
            telemetry=telemetry,
        )
    from bot.scheduler import start_scheduler, stop_scheduler

    web = settings.config.web
    host, port = host or web.host, web.port if port is None else port
    listening = _listen_or_exit(host, port)
    port = listening.getsockname()[1]
    connection = None
    slack_app = None
    if slack is not None and settings.slack_socket_mode:
        from bot.slack.socket_mode import SocketModeUnavailable, connect_socket_mode

        try:
            connection = connect_socket_mode(rollbot, slack.client)
        except SocketModeUnavailable as exc:
            typer.echo(f"rollbot cannot connect to Slack: {exc}", err=True)
            rollbot.db.dispose()
            raise typer.Exit(2) from None
        typer.echo(
            "Slack: connected in Socket Mode."
            if connection.connected
            else "Slack: the Socket Mode connection is not open yet (see the log); "
            "retrying in the background."
        )
        server = _web_server(rollbot, host, port)
    elif slack is not None:
        from bot.slack.app import build_slack_app

        typer.echo(f"Slack: serving events at http://{host}:{port}/slack/events")
        slack_app = build_slack_app(rollbot, slack.client)
        server = _web_server(rollbot, host, port, slack_app)
    else:
        typer.echo(
            "Slack is not connected: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to "
            "serve it over HTTP (plus SLACK_APP_TOKEN for Socket Mode). Serving the "
            "flag API and health only; try `rollbot shell` to drive rollouts locally."
        )
        server = _web_server(rollbot, host, port)
    _warn_at_start(rollbot, host)
    scheduler = start_scheduler(rollbot)
    typer.echo(
        f"rollbot listening on http://{host}:{port} (database: {rollbot.db.engine.dialect.name})"
    )
    try:
        server.run(sockets=[listening])
    finally:
        # First the runbook commands (a tick waiting on one would hold the stop up), then
        # the rest; a rollback cut short resumes after its lease, here or on a replica.
        stop_runbook_commands()
        if connection is not None:
            connection.close()  # its Bolt app's work too
        if slack_app is not None:
            # Commands acked but not done yet: done now, or left to the next replica.
            slack_app.work.close()
        stop_scheduler(scheduler)
        rollbot.db.dispose()
        typer.echo("rollbot stopped.")


@app.command()
def shell(
    user: Annotated[
        str | None,
        typer.Option(
            help="Who you are at the start (default: your login name; switch with `as NAME`)."
        ),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port of the web server (flags, health); 0 picks a free one.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run the whole bot with this terminal as its chat (no Slack needed)."""
    from bot.logs import redact_logs

    logging.basicConfig(level=logging.WARNING)
    settings = _settings_or_exit(config)
    redact_logs(settings.secret_values())
    _plans_or_exit(settings)
    from bot.config.shipped import templates_dir
    from bot.container import build
    from bot.providers.runbook.children import stop_all as stop_runbook_commands
    from bot.scheduler import start_scheduler, stop_scheduler
    from bot.shell.chat import ShellChat
    from bot.shell.repl import Shell

    web = settings.config.web
    listening = _listen_or_exit(web.host, web.port if port is None else port)
    drafts = Path.cwd() / "postmortems"
    chat = ShellChat(sys.stdout, drafts, templates_dir())
    with _database_or_exit(settings):
        rollbot = build(settings, chat=chat.ports, runbooks_in_threads=True)
    server = _web_server(rollbot, web.host, listening.getsockname()[1])
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listening]}, name="web", daemon=True
    )
    thread.start()
    typer.echo(f"rollbot shell: web server (flag API, health, status page) at {_url(listening)}")
    _warn_at_start(rollbot, web.host)
    scheduler = start_scheduler(rollbot)
    try:
        code = Shell(rollbot, chat, sys.stdin, user=user or _login_name()).run()
    finally:
        server.should_exit = True
        stop_runbook_commands()
        stop_scheduler(scheduler)
        thread.join(timeout=5)
        rollbot.db.dispose()
    raise typer.Exit(code)


@config_app.command("check")
def config_check(
    config: ConfigOption = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Also ask every configured outside system (Slack, metrics, PagerDuty, status "
            "pages, the flag system) whether it answers.",
        ),
    ] = False,
) -> None:
    """Validate the config and every plan it points at; print every problem."""
    from bot.config.settings import ConfigError, load_settings
    from bot.domain.plan import database_problems
    from bot.services.flags.segment_check import provider_segment_notes, segment_problems
    from bot.services.live_check import missing_database_env, missing_runbook_env
    from bot.services.plans import PlanCatalog
    from bot.services.signoff.config_check import signoff_problems

    try:
        settings = load_settings(config_path=config)
    except ConfigError as exc:
        # The plans' own problems too, so one run shows everything there is to fix.
        plan_problems = PlanCatalog(exc.plans_dir).problems if exc.plans_dir else []
        for problem in [*exc.problems, *plan_problems]:
            typer.echo(str(problem))
        typer.echo(f"{len(exc.problems) + len(plan_problems)} problem(s) found.")
        raise typer.Exit(1) from None
    catalog = PlanCatalog(settings.plans_dir)
    for problem in catalog.problems:
        typer.echo(str(problem))
    default = settings.config.rollouts.default_plan
    missing_default = default is not None and default not in catalog.plans
    if missing_default:
        typer.echo(
            f"{settings.config_path}: rollouts.default_plan: no plan named {default!r} "
            f"(hint: plans found: {', '.join(sorted(catalog.plans)) or 'none'})"
        )
    unset = _incident_env_problems(settings)
    for problem in unset:
        typer.echo(str(problem))
    signoff_errors, signoff_notes = signoff_problems(settings, catalog)
    for line in [*signoff_errors, *signoff_notes]:
        typer.echo(line)
    count = len(catalog.problems) + missing_default + len(unset) + len(signoff_errors)
    if count:
        typer.echo(f"{count} problem(s) found.")
        raise typer.Exit(1)
    typer.echo(
        f"{settings.config_path}: OK ({len(catalog.plans)} plan(s): "
        f"{', '.join(sorted(catalog.plans))}; database {settings.database_url.split(':')[0]};"
        f" Slack {_slack_mode(settings)})"
    )
    typer.echo(_incident_providers_line(settings))
    for finding in [
        *missing_runbook_env(catalog, settings.env),
        *missing_database_env(settings.config, settings.env),
    ]:
        typer.echo(f"warning: {finding.system}: {finding.detail}")
    # Not errors here: such queries are not evaluated and such steps fail, as with a
    # database whose URL is unset (`plan check` refuses them).
    known_databases = settings.config.database_names()
    for name, plan in sorted(catalog.plans.items()):
        for unknown in database_problems(plan, known_databases):
            typer.echo(f"warning: {_unknown_database(name, unknown)}")
    for line in segment_problems(settings, catalog):
        typer.echo(f"warning: {line}")
    for line in provider_segment_notes(settings, catalog):
        typer.echo(line)
    if settings.client_token is None:
        typer.echo(
            "warning: no ROLLBOT_CLIENT_TOKEN: OFREP (/ofrep/v1/...) and the Unleash client "
            "API (/api/client/...) answer 401 until one is set (a read-only token for "
            "applications' SDKs)"
        )
    if live:
        from bot.container import build

        with _database_or_exit(settings):
            checks = build(settings).live
        failed = _live(settings, checks.outside())
        if failed:
            typer.echo(f"{failed} outside system(s) did not answer.")
            raise typer.Exit(1)


def _unknown_database(plan: str, problem: PlanProblem) -> str:
    """A plan naming a database the config lacks, as a warning (`plan check` refuses it)."""
    return (
        f"plan {plan}: {problem.path}: {problem.message}: its sql queries are not evaluated, "
        f"its sql steps fail and its backup is not taken (hint: {problem.hint})"
    )


def _warn_at_start(rollbot: Rollbot, host: str) -> None:
    """Say once what will not work: runbook variables unset, metrics that do not answer,
    and the dashboard when `host` (the web server's address) is not loopback and no login
    is configured. `serve` and `shell` both say it."""
    from bot.domain.plan import database_problems
    from bot.domain.secrets import Redactor
    from bot.services.live_check import Finding, missing_database_env

    findings = [
        *rollbot.live.runbook_env(),
        *missing_database_env(rollbot.settings.config, rollbot.settings.env),
        rollbot.live.metrics_reachable(),
    ]
    known = rollbot.settings.config.database_names()
    findings += [
        Finding("plans", False, _unknown_database(name, problem))
        for name, plan in sorted(rollbot.plans.plans.items())
        for problem in database_problems(plan, known)
    ]
    redact = Redactor(rollbot.settings.secret_values())
    for finding in findings:
        if finding.ok is False:
            typer.echo(
                f"warning: {finding.system}: {redact(finding.detail)} "
                "(see `rollbot config check --live`)",
                err=True,
            )
    _warn_dashboard_shut(rollbot, host)


def _warn_dashboard_shut(rollbot: Rollbot, host: str) -> None:
    """Say once that the dashboard answers 403 on this address, and how to open it."""
    from bot.web.dashboard import DashboardAccess

    refusal = DashboardAccess.of(rollbot, host).refusal()
    if refusal is not None:
        logging.getLogger("bot.web.dashboard").warning("%s", refusal)


def _live(settings: Settings, findings: list[Finding]) -> int:
    """Print each outside system's answer (Slack's `auth.test` first); return how many failed."""
    from bot.domain.secrets import Redactor
    from bot.services.live_check import Finding

    if settings.slack_bot_token:
        from slack_sdk.errors import SlackApiError

        from bot.container import slack_chat

        try:
            # The client rollbot talks through (retries, Retry-After, base URL as configured).
            who = slack_chat(settings).client.auth_test()
            findings = [
                Finding("slack", True, f"auth.test: {who.get('team')} as {who.get('user')}"),
                *findings,
            ]
        except (SlackApiError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            findings = [Finding("slack", False, f"auth.test failed: {error}"), *findings]
    else:
        findings = [Finding("slack", None, "no SLACK_BOT_TOKEN: not connected"), *findings]
    redact = Redactor(settings.secret_values())
    for finding in findings:
        mark = {True: "ok", False: "FAILED", None: "-"}[finding.ok]
        typer.echo(f"  {mark:6} {finding.system}: {redact(finding.detail)}")
    return sum(1 for f in findings if f.ok is False)


def _incident_env_problems(settings: Settings) -> list[FileProblem]:
    """Secret environment variables that the status page and paging config name but lack."""
    from bot.config.providers import env_problems

    cfg = settings.config
    return env_problems(str(settings.config_path), cfg.statuspage, cfg.paging, settings.env)


def _incident_providers_line(settings: Settings) -> str:
    """Where status updates go (in order) and who gets paged, for `config check`."""
    from bot.config.providers import AtlassianStatusConfig

    cfg = settings.config
    pages = [
        f"statuspage (page {p.page_id})" if isinstance(p, AtlassianStatusConfig) else p.type
        for p in cfg.statuspage.providers
    ]
    pd = cfg.paging.pagerduty
    paging = f"PagerDuty (escalation policy {pd.escalation_policy_id})" if pd else "none"
    return f"Status page: {' then '.join(pages)}; paging: {paging}"


def _slack_mode(settings: Settings) -> str:
    """How `serve` would reach Slack with these settings (Socket Mode wins, as in serve)."""
    if settings.slack_socket_mode:
        return "Socket Mode"
    return "HTTP" if settings.slack_http else "not configured"


@plan_app.command("check")
def plan_check(
    files: Annotated[list[Path], typer.Argument(help="Plan YAML file(s).")],
    config: ConfigOption = None,
) -> None:
    """Validate plan files; print every problem with its key path and a hint. Gates and
    checklist owners must name roles of the config (as `config check` asks)."""
    from bot.config.settings import ConfigError, load_settings
    from bot.services.plans import load_plan_file

    failed = False
    roles: set[str] | None = None
    databases: set[str] | None = None
    try:
        settings = load_settings(config_path=config)
    except ConfigError as exc:
        typer.echo(
            f"note: roles not checked, the config has {len(exc.problems)} problem(s) "
            "(see `rollbot config check`)"
        )
    else:
        databases = settings.config.database_names()
        if settings.config.signoff.enforce_gates:
            roles = set(settings.config.roles)
    for path in files:
        plan, problems = load_plan_file(path, roles, databases)
        for problem in problems:
            typer.echo(str(problem))
        if problems:
            failed = True
        elif plan is not None:
            percentages = " -> ".join(f"{s.step.percentage}%" for s in plan.steps())
            typer.echo(f"{path}: OK: {plan.title} ({len(plan.phases)} phases: {percentages})")
        else:
            failed = True
    if failed:
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply database migrations (rollbot also does this on start)."""
    from bot.store.database import Database

    settings = _settings_or_exit(config)
    with _database_or_exit(settings):
        Database(settings.database_url).dispose()
    typer.echo("Database is up to date.")


def main() -> None:
    """Entry point of the `rollbot` console script."""
    app()
