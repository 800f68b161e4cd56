"""The sql metrics provider against real tables in PostgreSQL (Appendix B's), and triggers
and criteria that read them through the watcher: a query that times out and one that finds
no rows are missing data, handled by the condition's missing_data policy."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.clock import ManualClock
from bot.config.settings import load_settings
from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.domain.plan import validate_plan
from bot.domain.rollout import RolloutState
from bot.providers.databases import Databases
from bot.providers.metrics.base import MetricsProviderError
from bot.providers.metrics.factory import build_databases, build_metric_sources
from bot.providers.metrics.sql import SqlMetricsProvider
from bot.slack.blocks import chat_text
from bot.wording import waiting_line
from tests.plan_support import (
    GA,
    criterion,
    named_runbook,
    phase,
    plan_yaml,
    quoted,
    runbook_step,
    step,
    trigger,
)
from tests.rollback_support import ThreadRecorder, build_rollbot, hearing, tick
from tests.sql_support import connections, messages, realtime_db, scalar

__all__ = ["realtime_db"]

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "plans" / "realtime-features.yaml"
ALICE = Actor("U_ALICE", Via.SLACK)
FLAG = "chat-v2"


def provider(url: str, timeout: float = 5.0) -> SqlMetricsProvider:
    return SqlMetricsProvider(Databases({"realtime": url}), "realtime", timeout)


def test_the_shipped_plans_appendix_b_criteria_read_the_real_tables(
    realtime_db: str, tmp_path: Path
) -> None:
    plan, problems = validate_plan(yaml.safe_load(SHIPPED.read_text()))
    assert problems == [] and plan is not None
    sql = {c.name: c for c in plan.criteria_for(1) if c.provider == "sql"}
    assert set(sql) == {
        "connection-errors-last-hour",
        "connection-latency-last-hour",
        "message-throughput-last-minute",
    }
    # Built as rollbot builds it: the example config's `databases.realtime`, URL from env.
    settings = load_settings(
        env={"REALTIME_DATABASE_URL": realtime_db},
        config_path=Path(__file__).resolve().parents[2] / "config" / "rollbot.example.yaml",
    )
    assert "REALTIME_DATABASE_URL" in settings.secret_names()
    assert realtime_db in settings.secret_values()
    sources = build_metric_sources(
        settings.config, settings.env, build_databases(settings.config, settings.env)
    )

    def measure(name: str) -> float | None:
        return sources.ask(sql[name].source, sql[name].query)

    # Nothing yet: no connections is no data (the step holds), no messages is 0 msg/s.
    assert measure("connection-errors-last-hour") is None
    assert measure("connection-latency-last-hour") is None
    assert measure("message-throughput-last-minute") == 0
    assert not sql["message-throughput-last-minute"].compares_true(0)
    # A healthy hour: 5 errors in 1,000 connections at 40 ms; 120 messages in the last
    # minute. Older rows are outside the windows.
    connections(realtime_db, ok=995, errors=5, latency_ms=40)
    connections(realtime_db, ok=0, errors=500, latency_ms=900, ago="2 hours")
    messages(realtime_db, 120)
    messages(realtime_db, 9000, ago="5 minutes")
    assert measure("connection-errors-last-hour") == pytest.approx(0.005)
    assert measure("connection-latency-last-hour") == pytest.approx(40)
    assert measure("message-throughput-last-minute") == pytest.approx(2.0)
    for name in sql:
        value = measure(name)
        assert value is not None and sql[name].compares_true(value), name
    # A bad hour: 3% of connections fail and they are slow.
    connections(realtime_db, ok=0, errors=30, latency_ms=4000)
    errors = measure("connection-errors-last-hour")
    assert errors is not None and not sql["connection-errors-last-hour"].compares_true(errors)


def test_a_query_that_runs_too_long_is_cancelled_and_reported(realtime_db: str) -> None:
    slow = provider(realtime_db, timeout=0.3)
    with pytest.raises(MetricsProviderError, match=r"database 'realtime': timed out after 0.3 s"):
        slow.query("SELECT COUNT(*) FROM pg_sleep(5)")
    # The database cancelled it: no query of ours is still running there.
    assert (
        scalar(
            realtime_db,
            "SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(5)%' "
            "AND pid <> pg_backend_pid()",
        )
        == 0
    )


def test_metrics_queries_run_read_only(realtime_db: str) -> None:
    messages(realtime_db, 3)
    sql = provider(realtime_db)
    with pytest.raises(MetricsProviderError, match="read-only transaction"):
        sql.query("DELETE FROM websocket_messages RETURNING 1")
    with pytest.raises(MetricsProviderError, match="read-only transaction"):
        sql.query("SELECT COUNT(*) FROM (SELECT 1) x; DROP TABLE websocket_messages")
    assert scalar(realtime_db, "SELECT COUNT(*) FROM websocket_messages") == 3


def test_one_number_or_one_per_labelled_row(realtime_db: str) -> None:
    connections(realtime_db, ok=8, errors=2, latency_ms=50)
    sql = provider(realtime_db)
    with pytest.raises(MetricsProviderError, match="returns 2 columns"):
        sql.query("SELECT COUNT(*), AVG(latency_ms) FROM websocket_connections")
    with pytest.raises(MetricsProviderError, match="returns 2 rows"):
        sql.query("SELECT COUNT(*) FROM websocket_connections GROUP BY status")
    with pytest.raises(MetricsProviderError, match="not a number"):
        sql.query("SELECT MAX(status) FROM websocket_connections")
    # `%` and `:` are the author's SQL, not placeholders.
    assert sql.query("SELECT COUNT(*) FROM websocket_connections WHERE status LIKE 'err%'") == 2
    assert sql.query("SELECT EXTRACT(HOUR FROM TIME '12:30')") == 12
    assert sql.query_labelled(
        "SELECT status, COUNT(*) FROM websocket_connections GROUP BY status", "status"
    ) == {"error": 2.0, "ok": 8.0}


def test_any_sqlalchemy_url_sqlite_with_its_own_time_limit(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE websocket_messages (size_bytes INTEGER)")
        conn.executemany("INSERT INTO websocket_messages VALUES (?)", [(100,), (300,)])
    sql = SqlMetricsProvider(Databases({"local": f"sqlite:///{path}"}), "local", timeout=0.3)
    assert sql.query("SELECT AVG(size_bytes) FROM websocket_messages") == 200
    with pytest.raises(MetricsProviderError, match=r"timed out after 0\.3 s"):
        sql.query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT MAX(i) FROM n"
        )
    with pytest.raises(MetricsProviderError, match=r"readonly|read-only|query_only"):
        sql.query("DELETE FROM websocket_messages")
    assert sql.query("SELECT COUNT(*) FROM websocket_messages") == 2


THROUGHPUT = (
    "SELECT COUNT(*) / 60.0 FROM websocket_messages WHERE timestamp > NOW() - INTERVAL '1 minute'"
)
CONNECTION_ERRORS = (
    "SELECT COUNT(CASE WHEN status = 'error' THEN 1 END)::float / NULLIF(COUNT(*), 0) "
    "FROM websocket_connections WHERE timestamp > NOW() - INTERVAL '1 hour'"
)


def plan_text(slow_query: str = "SELECT 1") -> str:
    throughput = criterion("throughput", quoted(THROUGHPUT), ">", 1, provider="sql", consecutive=1)
    beta = phase("beta", "Beta", [step("five", 5, "1m"), step("twenty", 20, "1h")], [throughput])
    return plan_yaml(
        [beta, GA],
        flag=FLAG,
        triggers=[
            trigger(
                "connection-errors",
                quoted(CONNECTION_ERRORS),
                ">",
                0.05,
                description="connection errors > 5% over the last hour",
                provider="sql",
                database="realtime",
                consecutive=2,
                missing_data="hold",
                runbook="websocket-off",
            ),
            trigger("slow", quoted(slow_query), ">", 100, provider="sql", missing_data="hold"),
        ],
        runbooks=[
            named_runbook(
                "websocket-off",
                "disable WebSocket, fall back to polling",
                [
                    runbook_step(
                        "Disable WebSocket",
                        "flag",
                        flag="chat-v2-websocket",
                        set="{enabled: false}",
                    )
                ],
            )
        ],
    )


def sql_config(realtime_db: str) -> tuple[str, dict[str, str]]:
    yaml_text = (
        "metrics:\n  evaluation_seconds: 15\n  timeout: 1s\n  sql:\n    database: realtime\n"
        "databases:\n  realtime:\n    url_env: REALTIME_DATABASE_URL\n"
    )
    return yaml_text, {"REALTIME_DATABASE_URL": realtime_db}


def rollbot_on(
    tmp_path: Path,
    database_url: str,
    clock: ManualClock,
    realtime_db: str,
    seen: ThreadRecorder,
    **kw: str,
) -> Rollbot:
    metrics_yaml, env = sql_config(realtime_db)
    return build_rollbot(
        tmp_path,
        database_url,
        clock,
        None,
        plan=plan_text(**kw),
        metrics_yaml=metrics_yaml,
        env=env,
        chat=hearing(seen),
    )


@pytest.fixture
def bot(
    tmp_path: Path, database_url: str, clock: ManualClock, realtime_db: str, seen: ThreadRecorder
) -> Iterator[Rollbot]:
    rb = rollbot_on(tmp_path, database_url, clock, realtime_db, seen)
    try:
        yield rb
    finally:
        rb.db.dispose()


def test_a_sql_trigger_with_no_rows_holds_and_a_breach_runs_its_partial_runbook(
    bot: Rollbot, clock: ManualClock, realtime_db: str, seen: ThreadRecorder
) -> None:
    messages(realtime_db, 600)  # 10 msg/s: the criterion is met
    bot.rollouts.start(FLAG, None, ALICE)
    tick(bot, clock)
    clock.advance(timedelta(minutes=2))
    # No connections in the last hour: no data, and the trigger's policy is hold.
    assert bot.rollouts.advance_due() == []
    status = chat_text(waiting_line(bot.rollouts.status(FLAG)))
    assert "trigger *connection-errors* has no data" in status, status
    connections(realtime_db, ok=90, errors=10, latency_ms=30)  # 10% errors
    tick(bot, clock)
    assert bot.rollouts.status(FLAG).state == RolloutState.RUNNING.value
    tick(bot, clock)  # second breach in a row: the partial runbook runs
    view = bot.rollouts.status(FLAG)
    assert view.state == RolloutState.PAUSED.value and view.percentage == 5
    main = bot.flags.get(FLAG)
    websocket = bot.flags.get("chat-v2-websocket")
    assert main is not None and (main.enabled, main.rollout_percentage) == (True, 5)
    assert websocket is not None and websocket.enabled is False
    thread = "\n".join(seen.events)
    assert "Runbook `websocket-off` for `chat-v2`" in thread
    assert "connection errors &gt; 5% over the last hour" in thread  # escaped for Slack
    assert "stays on at 5% and its rollout is paused" in thread
    assert "is still running, paused: resume it with `/rollout resume chat-v2`" in thread
    # Still breaching: the partial runbook ran once for this streak.
    tick(bot, clock)
    tick(bot, clock)
    later = "\n".join(seen.events)
    assert later.count("*Runbook `websocket-off` for `chat-v2`* at") == 1
    assert later.count("Step 1/1 *Disable WebSocket* done") == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_sql_query_that_times_out_is_missing_data_for_the_policy(
    tmp_path: Path, database_url: str, clock: ManualClock, realtime_db: str, seen: ThreadRecorder
) -> None:
    bot = rollbot_on(
        tmp_path,
        database_url,
        clock,
        realtime_db,
        seen,
        slow_query="SELECT COUNT(*) FROM pg_sleep(3)",
    )
    try:
        messages(realtime_db, 600)
        connections(realtime_db, ok=100, errors=0, latency_ms=30)
        bot.rollouts.start(FLAG, None, ALICE)
        tick(bot, clock)
        clock.advance(timedelta(minutes=2))
        assert bot.rollouts.advance_due() == []  # held, not rolled back
        status = chat_text(waiting_line(bot.rollouts.status(FLAG)))
        assert "trigger *slow* has no data (database 'realtime': timed out after 1 s)" in status
        assert bot.rollouts.status(FLAG).state == RolloutState.RUNNING.value
    finally:
        bot.db.dispose()
