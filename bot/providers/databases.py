"""The config's named databases: SQL runs there in one transaction with a time limit.

Metrics queries (`provider: sql`) and runbook `sql` steps reach the databases a team names
under `databases:`. Each run is one transaction, bounded in time by the database itself
where it can be (PostgreSQL `SET LOCAL statement_timeout`, SQLite a progress handler that
interrupts the statement), and read-only for metrics (PostgreSQL `SET TRANSACTION READ
ONLY`, SQLite `PRAGMA query_only`; on other databases the transaction is rolled back).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from bot.store.database import normalize_url


class DatabaseUnavailable(Exception):
    """A named database is unknown, cannot be reached, refused the SQL or ran out of time."""


def _timed_out(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "statement timeout" in text or "interrupted" in text or "querycanceled" in text


def describe_error(exc: SQLAlchemyError, timeout_s: float) -> str:
    """A database error for people: a timeout says so; otherwise the driver's first line,
    never the URL (it may carry a password)."""
    if _timed_out(exc):
        return f"timed out after {timeout_s:g} s"
    original = getattr(exc, "orig", None) or exc
    first = str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__
    return f"{type(original).__name__}: {first}"[:300]


def execute(conn: Connection, sql: str) -> CursorResult[Any]:
    """Run `sql` exactly as written: no bind parameters are parsed out of it (`:name`, `%`),
    since it is the plan author's text and nothing else is ever put into it."""
    if conn.dialect.paramstyle in ("format", "pyformat"):
        sql = sql.replace("%", "%%")  # the driver would read `%` as a placeholder
    return conn.exec_driver_sql(sql)


class Databases:
    """Engines for the named databases (made on first use, shared by every run)."""

    def __init__(self, urls: Mapping[str, str]) -> None:
        self._urls = dict(urls)
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        """The databases configured."""
        return sorted(self._urls)

    @property
    def available(self) -> list[str]:
        """The databases configured whose URL is set."""
        return sorted(name for name, url in self._urls.items() if url)

    def __contains__(self, name: object) -> bool:
        return name in self._urls

    def engine(self, name: str) -> Engine:
        """The engine of database `name`."""
        with self._lock:
            if name not in self._engines:
                if name not in self._urls:
                    known = ", ".join(self.names) or "none configured"
                    raise DatabaseUnavailable(f"no database called {name!r} (databases: {known})")
                if not self._urls[name]:
                    raise DatabaseUnavailable(
                        f"database {name!r} has no URL: the variable its url_env names is not set"
                    )
                url = normalize_url(self._urls[name])
                options: dict[str, Any] = {"pool_pre_ping": True}
                if url.startswith("sqlite"):
                    options["connect_args"] = {"check_same_thread": False}
                try:
                    self._engines[name] = create_engine(url, **options)
                except (SQLAlchemyError, ValueError, ImportError) as exc:
                    # Not the URL itself: it holds the password.
                    raise DatabaseUnavailable(
                        f"database {name!r}: its URL is not usable ({type(exc).__name__})"
                    ) from None
            return self._engines[name]

    @contextmanager
    def transaction(self, name: str, timeout_s: float, read_only: bool) -> Iterator[Connection]:
        """One transaction on database `name`, each statement bounded by `timeout_s`;
        committed when the block ends (read-only: always rolled back), rolled back when it
        raises. Database errors come out as DatabaseUnavailable with a readable message."""
        engine = self.engine(name)
        try:
            with engine.connect() as conn:
                undo = _limit(conn, engine.dialect.name, timeout_s, read_only)
                try:
                    with conn.begin() as trans:
                        if engine.dialect.name == "postgresql":
                            # Both must come first in the transaction (and apply only to it).
                            if read_only:
                                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                            ms = max(1, int(timeout_s * 1000))
                            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
                        yield conn
                        if read_only:
                            trans.rollback()
                finally:
                    undo()
        except SQLAlchemyError as exc:
            raise DatabaseUnavailable(
                f"database {name!r}: {describe_error(exc, timeout_s)}"
            ) from None

    def dispose(self) -> None:
        """Close every pool."""
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


def _limit(conn: Connection, dialect: str, timeout_s: float, read_only: bool) -> Callable[[], None]:
    """SQLite's time limit and read-only switch on this connection; returns their undo."""
    if dialect != "sqlite":
        return lambda: None
    raw: Any = conn.connection.driver_connection
    deadline = time.monotonic() + timeout_s
    # Called every 1,000 virtual machine steps; a true answer interrupts the statement.
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
    if read_only:
        raw.execute("PRAGMA query_only = ON")

    def undo() -> None:
        raw.set_progress_handler(None, 0)
        if read_only:
            raw.execute("PRAGMA query_only = OFF")

    return undo
