"""Alembic environment: runs on the connection rollbot hands over, or on the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

from bot.store import (  # noqa: F401  (register the tables on SQLModel.metadata)
    digest_models,
    incident_models,
    models,
    rollback_models,
    signoff_models,
)

config = context.config
target_metadata = SQLModel.metadata


def run() -> None:
    """Run migrations on a given connection, or open one from sqlalchemy.url."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
