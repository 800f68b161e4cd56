"""Read-only sessions: a read never waits for the write lock, and cannot write."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from bot.store import requests
from bot.store.database import Database, WriteInReadSession
from bot.store.models import ProcessedRequestRow

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _in_thread(work: threading.Event, fn: object) -> threading.Thread:
    def run() -> None:
        fn()  # type: ignore[operator]
        work.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_read_proceeds_while_a_write_transaction_is_open_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'read.db'}")
    try:
        with db.session() as s:
            requests.remember(s, "committed", AT)
        writer = db.session()
        s = writer.__enter__()
        requests.remember(s, "uncommitted", AT)
        s.flush()  # the write transaction holds SQLite's write lock from here on
        try:
            seen: list[str] = []
            read_done = threading.Event()

            def read() -> None:
                with db.read() as r:
                    seen.extend(row.key for row in r.exec(select(ProcessedRequestRow)))

            _in_thread(read_done, read).join(timeout=10)
            # The read saw the last committed state, without waiting for the writer.
            assert read_done.is_set(), "the read waited for the open write transaction"
            assert seen == ["committed"]
            db.ping()  # the health check reads too

            # A second writer does queue behind the first: writes stay one at a time.
            write_done = threading.Event()

            def write() -> None:
                with db.session() as w:
                    requests.remember(w, "second", AT)

            second = _in_thread(write_done, write)
            assert not write_done.wait(timeout=0.5)
        finally:
            writer.__exit__(None, None, None)
        second.join(timeout=10)
        assert write_done.is_set()
        with db.read() as r:
            keys = sorted(row.key for row in r.exec(select(ProcessedRequestRow)))
        assert keys == ["committed", "second", "uncommitted"]
    finally:
        db.dispose()


def test_a_read_only_session_refuses_to_write(database_url: str) -> None:
    db = Database(database_url)
    try:
        with pytest.raises(WriteInReadSession), db.read() as r:
            requests.remember(r, "sneaky", AT)
        with db.read() as r:
            assert list(r.exec(select(ProcessedRequestRow))) == []
    finally:
        db.dispose()
