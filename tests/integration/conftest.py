"""Fixtures the integration tests of triggers, criteria and rollbacks share."""

from __future__ import annotations

import pytest

from tests.fakes.metrics import FakeMetrics
from tests.rollback_support import ThreadRecorder


@pytest.fixture
def metrics() -> FakeMetrics:
    """The fake metrics provider a module's rollbot is built with (`build_rollbot`)."""
    return FakeMetrics()


@pytest.fixture
def seen() -> ThreadRecorder:
    """What the rollout's card and thread hear."""
    return ThreadRecorder()
