"""A database that goes away mid-work: both kinds of session say so as `DatabaseUnavailable`
(the scheduler logs one line and tries again next tick), never as a raw driver error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select

from bot.domain.errors import DatabaseUnavailable
from bot.store.database import Database
from bot.store.models import RolloutRow
from tests.own_postgres import OwnPostgres


@pytest.fixture
def database() -> Iterator[tuple[OwnPostgres, Database]]:
    server = OwnPostgres()
    db: Database | None = None
    try:
        server.start()
        server.create_database()
        db = Database(server.url)
        yield server, db
    finally:
        if db is not None:
            db.dispose()
        server.close()


@pytest.mark.slow
def test_reads_and_writes_on_a_stopped_server_raise_database_unavailable(
    database: tuple[OwnPostgres, Database],
) -> None:
    server, db = database
    with db.read() as s:
        assert list(s.exec(select(RolloutRow))) == []
    server.stop()
    with pytest.raises(DatabaseUnavailable), db.read() as s:
        list(s.exec(select(RolloutRow)))
    with pytest.raises(DatabaseUnavailable), db.session() as s:
        list(s.exec(select(RolloutRow)))
    server.start()
    with db.read() as s:
        assert list(s.exec(select(RolloutRow))) == []
