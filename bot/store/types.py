"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.orm.attributes import set_attribute
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as naive UTC and returns them aware.

    SQLite drops time zones; keeping UTC in the column and re-attaching it on the way out
    means every datetime the services see is comparable with the clock's.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


# JSON objects at least this long (stored plans, not small payloads) carry a content key.
KEYED_DOCUMENT_SIZE = 1024


class Document(dict[str, Any]):
    """A JSON object as read from the database, with a hash of the text it was stored as:
    a cheap content key for caching what is derived from it (a rollout's validated plan)
    without encoding it again. The key describes the document as read; a copy changed in
    memory is a plain dict again."""

    content_key: bytes = b""


def load_json(text: str | bytes) -> Any:
    """The engine's JSON decoder: `json.loads`, and for large objects a `Document` keyed by
    a hash of the stored text."""
    value = json.loads(text)
    if isinstance(value, dict) and len(text) >= KEYED_DOCUMENT_SIZE:
        raw = text.encode() if isinstance(text, str) else bytes(text)
        document = Document(value)
        document.content_key = hashlib.blake2b(raw, digest_size=16).digest()
        return document
    return value


def content_key(value: dict[str, Any]) -> bytes | None:
    """The content key of a document read from the database, None for any other dict."""
    return value.content_key if isinstance(value, Document) and value.content_key else None


def assign(row: SQLModel, **values: Any) -> None:
    """Set columns of a table row through SQLAlchemy's instrumentation only: what SQLModel's
    own attribute setting does, without pydantic's per-assignment work on top, which was
    most of the cost of advancing a thousand rollouts in one tick."""
    for name, value in values.items():
        set_attribute(row, name, value)
