"""Fixtures the integration tests of triggers, criteria and rollbacks share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.container import Rollbot
from tests.fakes.metrics import FakeMetrics
from tests.rollback_support import ThreadRecorder, build_rollbot, hearing, rollbot_for


@pytest.fixture
def metrics() -> FakeMetrics:
    """The fake metrics provider a module's rollbot is built with (`build_rollbot`)."""
    return FakeMetrics()


@pytest.fixture
def seen() -> ThreadRecorder:
    """What the rollout's card and thread hear."""
    return ThreadRecorder()


@pytest.fixture
def bot(
    tmp_path: Path, database_url: str, clock: ManualClock, metrics: FakeMetrics
) -> Iterator[Rollbot]:
    """A Rollbot on rollback_support's PLAN measuring `metrics`, no chat (a module that needs
    another defines its own `bot`)."""
    with rollbot_for(tmp_path, database_url, clock, metrics) as rollbot:
        yield rollbot


@pytest.fixture
def rollbot_hearing(
    tmp_path: Path,
    database_url: str,
    clock: ManualClock,
    metrics: FakeMetrics,
    seen: ThreadRecorder,
) -> Iterator[Callable[..., Rollbot]]:
    """Builds a Rollbot measuring `metrics` whose card and thread `seen` hears, with
    `build_rollbot`'s other keyword arguments; its database is disposed after the test."""
    built: list[Rollbot] = []

    def build(**kwargs: Any) -> Rollbot:
        built.append(
            build_rollbot(tmp_path, database_url, clock, metrics, chat=hearing(seen), **kwargs)
        )
        return built[-1]

    try:
        yield build
    finally:
        for rollbot in built:
            rollbot.db.dispose()
