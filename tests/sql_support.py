"""Shared by the SQL tests: a PostgreSQL database of its own holding the reference plan's
tables (Appendix B's websocket_connections and websocket_messages, and realtime_data for the
data-migration backup), filled with rows relative to the database's own NOW()."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import fresh_database, postgres_admin_or_skip

SCHEMA = """
CREATE TABLE websocket_connections (
    id serial PRIMARY KEY,
    timestamp timestamptz NOT NULL,
    latency_ms numeric NOT NULL,
    status text NOT NULL
);
CREATE TABLE websocket_messages (
    id serial PRIMARY KEY,
    timestamp timestamptz NOT NULL,
    size_bytes integer NOT NULL
);
CREATE TABLE realtime_data (
    id serial PRIMARY KEY,
    document text NOT NULL,
    state jsonb NOT NULL
);
"""


def connections(url: str, ok: int, errors: int, latency_ms: float, ago: str = "10 minutes") -> None:
    """Add connection attempts `ago` (an SQL interval) before now."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO websocket_connections (timestamp, latency_ms, status) "
            "SELECT NOW() - %s::interval, %s, CASE WHEN n <= %s THEN 'error' ELSE 'ok' END "
            "FROM generate_series(1, %s) AS n",
            (ago, latency_ms, errors, ok + errors),
        )


def messages(url: str, count: int, size: int = 512, ago: str = "10 seconds") -> None:
    """Add `count` delivered messages `ago` before now."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO websocket_messages (timestamp, size_bytes) "
            "SELECT NOW() - %s::interval, %s FROM generate_series(1, %s)",
            (ago, size, count),
        )


def documents(url: str, count: int) -> None:
    """Add `count` rows of realtime_data."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO realtime_data (document, state) "
            "SELECT 'doc-' || n, jsonb_build_object('rev', n) FROM generate_series(1, %s) AS n",
            (count,),
        )


def scalar(url: str, sql: str) -> object:
    """One value read from the database."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None


@pytest.fixture
def realtime_db() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database with the reference plan's tables."""
    with fresh_database(postgres_admin_or_skip(), "rollbot_realtime") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SCHEMA)
        yield url
