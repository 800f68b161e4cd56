"""The database: engine creation, schema upgrades (Alembic, applied on open), and the
`Database` handle whose `session()` is every repository's unit of work."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session, create_engine

from bot.domain.errors import DatabaseUnavailable
from bot.store.types import load_json

MIGRATIONS = Path(__file__).parent / "migrations"

# The execution option that marks a connection of a read-only session (see `Database.read`).
READ_ONLY = "rollbot_read_only"


class WriteInReadSession(RuntimeError):
    """A read-only session was asked to write: a bug, since its transaction never took the
    write lock and so cannot promise one writer at a time."""


# What the drivers say when the server is gone, restarting or refusing connections.
_GONE = (
    "connection",
    "server closed",
    "terminating",
    "shutting down",
    "starting up",
    "could not connect",
    "no route to host",
)


def unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database cannot be reached (not a bad query, a conflict
    or a lock timeout): the request may be retried as it is once the server is back."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        text = str(exc.orig if exc.orig is not None else exc).lower()
        return any(word in text for word in _GONE)
    return False


def normalize_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` URLs and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so writers queue, not fail."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_deserializer=load_json,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
            # Let SQLAlchemy, not pysqlite, decide when transactions begin (see below).
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if conn.get_execution_options().get(READ_ONLY):
                # A read: a deferred transaction reads WAL's last committed snapshot and
                # never waits for the writer (nor makes it wait).
                conn.exec_driver_sql("BEGIN")
                return
            # One writer at a time: a transaction takes the write lock when it starts, so a
            # read-check-write (advance once, claim due work once) cannot interleave.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, json_deserializer=load_json
    )


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the packaged migrations and `url`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


# The advisory lock held (per transaction) while the schema changes, so replicas starting
# together on an empty PostgreSQL database change it one after the other.
SCHEMA_LOCK = 7_021_000


def _lock_schema(conn: Connection) -> None:
    """Wait for any other process changing the schema (PostgreSQL; released at commit).
    SQLite's write lock already serialises it."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent, and safe when several replicas
    start at once)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        _lock_schema(conn)
        cfg.attributes["connection"] = conn
        # "heads": features add migrations on their own branches off the same parent
        # (e.g. 0003 off 0001); all of them apply, whichever order they were merged in.
        command.upgrade(cfg, "heads")


def create_table_once(engine: Engine, table: Table) -> None:
    """Create `table` unless it exists, under the schema lock: two replicas starting at the
    same moment would otherwise both find it missing and one fail creating it (APScheduler's
    job table, which its job store creates itself)."""
    with engine.begin() as conn:
        _lock_schema(conn)
        table.create(conn, checkfirst=True)


@dataclass(frozen=True)
class Transaction:
    """An open unit of work, handed to code outside the store that must take part in it:
    a flag provider that keeps flags in rollbot's database writes in it, so the flag and
    the rollout change commit or fail together. Only the store's repositories reach the
    session inside."""

    session: Session

    def flush(self) -> None:
        """Send what is pending to the database (row locks, constraint checks) now."""
        self.session.flush()


class FirstWrite:
    """A write to add to the first transaction that writes anything, in this thread, while
    `Database.first_write` is open: a command's "done" mark in the request ledger commits
    with the command's own change, so the change and the mark cannot come apart."""

    def __init__(self, write: Callable[[Session], None]) -> None:
        self.write = write
        # True once a transaction carrying the write committed.
        self.committed = False


# The pending first write of this thread's (or task's) current unit of work, if any.
_FIRST_WRITE: ContextVar[FirstWrite | None] = ContextVar("rollbot_first_write", default=None)
# Set in a session's `info` once it sent an INSERT, UPDATE or DELETE.
_WROTE = "rollbot_wrote"


def _note_flush(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


def _note_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


def _watch_writes(session: Session) -> None:
    """Note in the session whether it wrote: flushed rows, or an INSERT/UPDATE/DELETE
    statement (a select, locking or not, is not a write)."""
    event.listen(session, "after_flush", _note_flush)
    event.listen(session, "do_orm_execute", _note_statement)


class Database:
    """Owns the engine; `session()` gives a unit of work that commits on success."""

    def __init__(self, url: str, migrate: bool = True) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        # The same pool, its connections marked so SQLite begins them deferred.
        self.reader: Engine = self.engine.execution_options(**{READ_ONLY: True})
        if migrate:
            upgrade(self.engine)

    @property
    def is_postgres(self) -> bool:
        """True on PostgreSQL (row locks with SKIP LOCKED are available)."""
        return self.engine.dialect.name == "postgresql"

    @property
    def fingerprint(self) -> str:
        """A short stable id of this database (its URL hashed): the same for every replica
        on it, different for another rollbot's database on the same host."""
        return hashlib.sha256(normalize_url(self.url).encode()).hexdigest()[:12]

    @property
    def dialect(self) -> str:
        """The database's kind: `sqlite` or `postgresql`."""
        return str(self.engine.dialect.name)

    def ping(self) -> None:
        """Ask the database a trivial question; raises when it does not answer."""
        with self.reader.connect() as conn:
            conn.execute(text("SELECT 1"))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back on error. A lost or
        refused connection is raised as `DatabaseUnavailable` (the pool pings before
        reuse, so once the server is back the next session gets a fresh connection)."""
        rider = _FIRST_WRITE.get()
        if rider is not None and rider.committed:
            rider = None
        with Session(self.engine, expire_on_commit=False) as session:
            if rider is not None:
                _watch_writes(session)
            try:
                yield session
                if rider is not None:
                    session.flush()
                    if not session.info.get(_WROTE):
                        rider = None
                    else:
                        rider.write(session)
                session.commit()
                if rider is not None:
                    rider.committed = True
            except BaseException as exc:
                try:
                    session.rollback()
                except SQLAlchemyError:
                    if not unavailable(exc):
                        raise
                if unavailable(exc):
                    raise DatabaseUnavailable() from exc
                raise

    @contextmanager
    def first_write(self, write: Callable[[Session], None]) -> Iterator[FirstWrite]:
        """While the block runs, the first `session()` of this thread that writes anything
        also runs `write` in its transaction, just before it commits (`committed` says
        whether one did). Sessions that only read, and sessions that fail, leave it
        pending."""
        rider = FirstWrite(write)
        token = _FIRST_WRITE.set(rider)
        try:
            yield rider
        finally:
            _FIRST_WRITE.reset(token)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session: on SQLite a deferred transaction (WAL snapshot, no write
        lock), on PostgreSQL a plain transaction; it never waits behind a writer. Anything
        added or changed in it raises `WriteInReadSession` instead of being written. A lost
        or refused connection is raised as `DatabaseUnavailable`."""
        # Closing (not rolling back) ends the transaction and keeps what was read loaded.
        with Session(self.reader, expire_on_commit=False, autoflush=False) as session:
            try:
                yield session
            except BaseException as exc:
                # As in `session()`: a lost or refused connection is the database being away.
                if unavailable(exc):
                    raise DatabaseUnavailable() from exc
                raise
            if session.new or session.dirty or session.deleted:
                raise WriteInReadSession("a read-only session was given rows to write")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
