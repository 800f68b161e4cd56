"""APScheduler's job store, kept in rollbot's own database so scheduled jobs survive a
restart (the jobs only wake the process; what is due lives in rollbot's tables)."""

from __future__ import annotations

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from bot.store.database import create_table_once, normalize_url

JOBS_TABLE = "apscheduler_jobs"


def job_store(database_url: str) -> SQLAlchemyJobStore:
    """The job store on `database_url`, its table created if missing."""
    store = SQLAlchemyJobStore(url=normalize_url(database_url), tablename=JOBS_TABLE)
    # The store would create its table itself at start, racing a replica starting with it.
    create_table_once(store.engine, store.jobs_t)
    return store
