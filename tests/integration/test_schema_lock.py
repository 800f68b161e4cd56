"""Replicas starting together on an empty PostgreSQL database change its schema one after
the other: the migrations and APScheduler's job table are each created once, without the
"already exists" failure one replica used to log."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import Engine, create_engine, inspect, text

from bot.store.database import SCHEMA_LOCK, create_table_once, upgrade
from tests.conftest import fresh_database, postgres_admin_or_skip


@pytest.fixture
def empty_postgres() -> Iterator[Engine]:
    with fresh_database(postgres_admin_or_skip()) as url:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            yield engine
        finally:
            engine.dispose()


def _together(work: Callable[[], None], times: int) -> list[BaseException]:
    """Run `work` in `times` threads released at the same moment; what they raised."""
    start, failures = threading.Barrier(times), []

    def run() -> None:
        start.wait()
        try:
            work()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return failures


def test_replicas_migrating_together_each_succeed(empty_postgres: Engine) -> None:
    assert _together(lambda: upgrade(empty_postgres), 4) == []
    with empty_postgres.connect() as conn:
        heads = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert len(heads) == 1 and "rollout" in inspect(empty_postgres).get_table_names()


def test_the_job_table_waits_for_a_schema_change_in_progress(empty_postgres: Engine) -> None:
    jobs = SQLAlchemyJobStore(engine=empty_postgres, tablename="apscheduler_jobs").jobs_t
    done = threading.Event()
    with empty_postgres.begin() as other:
        # Another replica is changing the schema: the job table is not created meanwhile.
        other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        creator = threading.Thread(
            target=lambda: (create_table_once(empty_postgres, jobs), done.set())
        )
        creator.start()
        assert not done.wait(0.5)
        assert "apscheduler_jobs" not in inspect(empty_postgres).get_table_names()
    assert done.wait(10), "the job table was not created once the lock was released"
    creator.join()
    assert "apscheduler_jobs" in inspect(empty_postgres).get_table_names()
    # Replicas starting together all get it, and none fails creating it.
    assert _together(lambda: create_table_once(empty_postgres, jobs), 4) == []
