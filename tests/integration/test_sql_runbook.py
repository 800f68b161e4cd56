"""The data-migration rollback against real tables in PostgreSQL: the plan's `backup:` runs
before the first users see the feature, the runbook's `sql` step puts the backup back, each
in one transaction with guards, so re-running is safe, and a crash between its two
statements leaves nothing half done (a resumed rollback then finishes the restore)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml
from sqlmodel import select

from bot.clock import ManualClock
from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.domain.errors import InvalidTransition
from bot.domain.plan import validate_plan
from bot.domain.rollout import RolloutState
from bot.domain.runbook import SqlStep
from bot.providers.databases import Databases
from bot.providers.flags.base import FlagProvider
from bot.providers.metrics.base import NoMetrics
from bot.providers.runbook.base import RunContext
from bot.providers.runbook.engine import run_one
from bot.slack.blocks import chat_text
from bot.store.models import AuditRow
from tests.plan_support import DISABLE_THE_FLAG, phase, plan_yaml, runbook_step, step
from tests.rollback_support import ThreadRecorder, build_rollbot, hearing, rollbot_for
from tests.sql_support import documents, realtime_db, scalar

__all__ = ["realtime_db"]

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "plans" / "realtime-features.yaml"
FLAG = "chat-v2"
OPS = Actor("U_OPS", Via.SHELL)
EXISTS = "SELECT to_regclass('{}') IS NOT NULL"

PLAN = plan_yaml(
    [
        phase("staging", "Staging", [step("staging", 0, "1h", auto_advance="false")]),
        phase("beta", "Beta", [step("five", 5, "1h"), step("all", 100)]),
    ],
    flag=FLAG,
    runbook=[
        DISABLE_THE_FLAG,
        runbook_step(
            "Restore realtime_data from the backup",
            "sql",
            database="realtime",
            skip_if="SELECT to_regclass('realtime_backup') IS NULL",
            statements=(
                "[DROP TABLE realtime_data, ALTER TABLE realtime_backup RENAME TO realtime_data]"
            ),
            count_rows="[realtime_data, realtime_backup]",
            timeout="30s",
        ),
    ],
    rest="""backup:
  name: Back up realtime_data
  kind: sql
  database: realtime
  skip_if: SELECT to_regclass('realtime_backup') IS NOT NULL
  statements: [CREATE TABLE realtime_backup AS SELECT * FROM realtime_data]
  count_rows: [realtime_data, realtime_backup]
""",
)

CONFIG = "databases:\n  realtime:\n    url_env: REALTIME_DATABASE_URL\n"


@pytest.fixture
def bot(
    tmp_path: Path, database_url: str, clock: ManualClock, realtime_db: str, seen: ThreadRecorder
) -> Iterator[Rollbot]:
    with rollbot_for(
        tmp_path,
        database_url,
        clock,
        None,
        plan=PLAN,
        extra_yaml=CONFIG,
        env={"REALTIME_DATABASE_URL": realtime_db},
        chat=hearing(seen),
    ) as rb:
        yield rb


def audits(bot: Rollbot, action: str) -> list[AuditRow]:
    with bot.db.session() as s:
        return list(s.exec(select(AuditRow).where(AuditRow.action == action)).all())


def test_the_backup_runs_before_the_first_users_and_the_rollback_restores_it(
    bot: Rollbot, clock: ManualClock, realtime_db: str, seen: ThreadRecorder
) -> None:
    documents(realtime_db, 50)
    bot.rollouts.start(FLAG, None, OPS)
    assert scalar(realtime_db, EXISTS.format("realtime_backup")) is False  # not at 0%
    bot.rollouts.advance(FLAG, OPS)
    assert bot.rollouts.status(FLAG).percentage == 5
    assert scalar(realtime_db, "SELECT COUNT(*) FROM realtime_backup") == 50
    thread = "\n".join(seen.events)
    assert "Data backup *Back up realtime_data* before the first users" in thread
    assert "before: realtime_data 50 rows, realtime_backup absent" in thread
    assert "1. CREATE TABLE realtime_backup AS SELECT * FROM realtime_data: 50 row(s)" in thread
    assert "after: realtime_data 50 rows, realtime_backup 50 rows" in thread
    (backup,) = audits(bot, "rollout.backup")
    assert backup.after is not None and backup.after["ok"] is True
    # Later steps do not back up again.
    clock.advance(timedelta(minutes=1))
    bot.rollouts.advance(FLAG, OPS)
    assert len(audits(bot, "rollout.backup")) == 1
    # The feature's migration changes the data; then it goes wrong and is rolled back.
    with psycopg.connect(realtime_db, autocommit=True) as conn:
        conn.execute("DELETE FROM realtime_data WHERE id > 10")
        conn.execute("UPDATE realtime_data SET state = '{\"rev\": -1}'")
    report = bot.rollback.roll_back(FLAG, OPS, "the migration corrupted documents")
    assert not report.failed, report
    restore = report.steps[1]
    assert restore.ok and restore.kind == "sql"
    assert "before: realtime_data 10 rows, realtime_backup 50 rows" in restore.output
    assert "1. DROP TABLE realtime_data" in restore.output
    assert "2. ALTER TABLE realtime_backup RENAME TO realtime_data" in restore.output
    assert "committed 2 statement(s) in one transaction" in restore.output
    assert "after: realtime_data 50 rows, realtime_backup absent" in restore.output
    assert scalar(realtime_db, "SELECT COUNT(*) FROM realtime_data") == 50
    assert scalar(realtime_db, "SELECT COUNT(*) FROM realtime_data WHERE state->>'rev' = '-1'") == 0
    assert "Restore realtime_data from the backup" in "\n".join(seen.events)


def context(realtime_db: str, flags: FlagProvider) -> RunContext:
    return RunContext(
        flag_key=FLAG,
        rollout_id=1,
        reason="test",
        actor=OPS,
        flags=flags,
        metrics=NoMetrics(),
        env={},
        databases=Databases({"realtime": realtime_db}),
    )


def steps_of_shipped_plan() -> tuple[SqlStep, SqlStep]:
    plan, problems = validate_plan(yaml.safe_load(SHIPPED.read_text()))
    assert problems == [] and plan is not None and plan.backup is not None
    (restore,) = [s for s in plan.runbook if isinstance(s, SqlStep)]
    return plan.backup, restore


def test_the_shipped_plans_backup_and_restore_are_safe_to_run_twice(
    bot: Rollbot, realtime_db: str
) -> None:
    backup, restore = steps_of_shipped_plan()
    ctx = context(realtime_db, bot.flags)
    documents(realtime_db, 7)
    first = run_one(backup, ctx)
    assert first.ok and "7 row(s)" in first.output
    documents(realtime_db, 3)
    again = run_one(backup, ctx)  # the backup exists: not taken over with newer rows
    assert again.ok and "skipped, already done" in again.output
    assert "realtime_data 10 rows, realtime_backup 7 rows" in again.output
    assert scalar(realtime_db, "SELECT COUNT(*) FROM realtime_backup") == 7
    restored = run_one(restore, ctx)
    assert restored.ok and "after: realtime_data 7 rows, realtime_backup absent" in restored.output
    twice = run_one(restore, ctx)  # nothing left to restore: nothing is dropped
    assert twice.ok and "skipped, already done" in twice.output
    assert scalar(realtime_db, "SELECT COUNT(*) FROM realtime_data") == 7


def test_a_failing_statement_rolls_the_whole_step_back(bot: Rollbot, realtime_db: str) -> None:
    documents(realtime_db, 5)
    step = SqlStep(
        kind="sql",
        name="Restore, badly",
        database="realtime",
        statements=[
            "DROP TABLE realtime_data",
            "ALTER TABLE no_such_table RENAME TO realtime_data",
        ],
        count_rows=["realtime_data"],
    )
    result = run_one(step, context(realtime_db, bot.flags))
    assert not result.ok and result.error is not None
    assert 'relation "no_such_table" does not exist' in result.error
    assert "rolled back: nothing was changed" in result.output
    assert scalar(realtime_db, "SELECT COUNT(*) FROM realtime_data") == 5  # not dropped


def test_a_failed_backup_holds_the_rollout_before_the_first_users(
    bot: Rollbot, realtime_db: str
) -> None:
    with psycopg.connect(realtime_db, autocommit=True) as conn:
        conn.execute("DROP TABLE realtime_data")
    bot.rollouts.start(FLAG, None, OPS)
    with pytest.raises(InvalidTransition) as refused:
        bot.rollouts.advance(FLAG, OPS)
    text = chat_text(refused.value.message)
    assert "the data backup *Back up realtime_data* failed" in text
    assert 'relation "realtime_data" does not exist' in text
    view = bot.rollouts.status(FLAG)
    assert (view.step_number, view.percentage) == (1, 0)
    doc = bot.flags.get(FLAG)
    assert doc is not None and doc.rollout_percentage == 0


def waiting_backend(realtime_db: str, like: str) -> int | None:
    return scalar(  # type: ignore[return-value]
        realtime_db,
        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        f"AND query LIKE '{like}%' LIMIT 1",
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_crash_between_the_two_statements_leaves_nothing_half_done_and_resumes(
    tmp_path: Path, database_url: str, realtime_db: str
) -> None:
    documents(realtime_db, 20)
    clock = ManualClock(datetime.now(UTC))
    env = {"REALTIME_DATABASE_URL": realtime_db}
    bot = build_rollbot(tmp_path, database_url, clock, None, plan=PLAN, extra_yaml=CONFIG, env=env)
    try:
        bot.rollouts.start(FLAG, None, OPS)
        bot.rollouts.advance(FLAG, OPS)  # the backup: 20 rows
        with psycopg.connect(realtime_db, autocommit=True) as conn:
            conn.execute("DELETE FROM realtime_data WHERE id > 5")
        # A rollbot in another process rolls back; this test holds a lock on the backup so
        # its RENAME waits after the DROP has run, and then that process is killed.
        script = tmp_path / "roll_back.py"
        script.write_text(
            textwrap.dedent(
                f"""
                from bot.config.settings import load_settings
                from bot.container import build
                from bot.domain.actor import Actor, Via
                from pathlib import Path
                settings = load_settings(config_path=Path({str(tmp_path / "rollbot.yaml")!r}))
                build(settings).rollback.roll_back(
                    {FLAG!r}, Actor("U_OPS", Via.SHELL), "bad migration"
                )
                """
            )
        )
        holder = psycopg.connect(realtime_db)
        holder.execute("LOCK TABLE realtime_backup IN ACCESS SHARE MODE")
        proc = subprocess.Popen(
            [sys.executable, str(script)],
            env={**os.environ, "DATABASE_URL": database_url, **env, "PYTHONPATH": str(REPO)},
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while (backend := waiting_backend(realtime_db, "ALTER TABLE realtime_backup")) is None:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL
        finally:
            holder.rollback()  # let the orphaned statement go on: it cannot commit
            holder.close()
        deadline = time.monotonic() + 30
        while scalar(realtime_db, f"SELECT COUNT(*) FROM pg_stat_activity WHERE pid = {backend}"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # Nothing half done: the DROP went back with the transaction it was in.
        assert scalar(realtime_db, "SELECT COUNT(*) FROM realtime_data") == 5
        assert scalar(realtime_db, "SELECT COUNT(*) FROM realtime_backup") == 20
        # The dead run's lease runs out; the scheduler's tick resumes it at the restore.
        clock.advance(timedelta(hours=1))
        (resumed,) = bot.rollback.resume_interrupted()
        assert not resumed.failed, resumed
        assert [s.name for s in resumed.steps] == [
            "Disable the flag",
            "Restore realtime_data from the backup",
        ]
        assert "after: realtime_data 20 rows, realtime_backup absent" in resumed.steps[1].output
        assert scalar(realtime_db, "SELECT COUNT(*) FROM realtime_data") == 20
        assert bot.rollouts.status(FLAG).state == RolloutState.ROLLED_BACK.value
    finally:
        bot.db.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_database_without_its_url_here_skips_the_backup_and_says_so(
    tmp_path: Path, database_url: str, clock: ManualClock, seen: ThreadRecorder
) -> None:
    bot = build_rollbot(
        tmp_path, database_url, clock, None, plan=PLAN, extra_yaml=CONFIG, chat=hearing(seen)
    )
    try:
        bot.rollouts.start(FLAG, None, OPS)
        bot.rollouts.advance(FLAG, OPS)
        assert bot.rollouts.status(FLAG).percentage == 5
        thread = "\n".join(seen.events)
        assert "Data backup *Back up realtime_data* was NOT taken" in thread
        assert "has no URL here" in thread
    finally:
        bot.db.dispose()
