"""The scheduler's tick issues the same few SQL statements however many rollouts are due,
and still advances each of them exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bench.rollouts import bench_settings, counted
from bot.clock import ManualClock
from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.domain.rollout import RolloutState
from bot.store import audit, flags
from tests.conftest import built

ACTOR = Actor("UALICE", Via.SLACK)


@pytest.fixture
def ticking(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Rollbot]:
    """rollbot with the benchmark's plan: every rollout bakes an hour, then advances itself."""
    with built(bench_settings(database_url, tmp_path), clock) as bot:
        yield bot


def _tick(bot: Rollbot) -> tuple[int, int]:
    """One `advance_due`: (statements issued, rollouts advanced)."""
    _, statements, advanced = counted(bot, bot.rollouts.advance_due)
    return statements, advanced


def test_a_tick_costs_the_same_statements_for_10_and_100_due_rollouts(
    ticking: Rollbot, clock: ManualClock
) -> None:
    bot = ticking
    idle, none = _tick(bot)
    assert none == 0
    counts: dict[int, int] = {}
    for i in range(10):
        bot.rollouts.start(f"a-{i:03d}", None, ACTOR)
    clock.advance(timedelta(hours=1, seconds=1))
    counts[10], advanced = _tick(bot)
    assert advanced == 10
    clock.advance(timedelta(hours=1, seconds=1))
    assert _tick(bot)[1] == 10  # the last step: these rollouts are complete
    for i in range(100):
        bot.rollouts.start(f"b-{i:03d}", None, ACTOR)
    clock.advance(timedelta(hours=1, seconds=1))
    counts[100], advanced = _tick(bot)
    assert advanced == 100
    assert counts[10] == counts[100], counts
    # Nothing is due now: the idle tick is as cheap as before any was due.
    assert _tick(bot) == (idle, 0)

    with bot.db.read() as s:
        advances = Counter(e.subject_id for e in audit.events(s, action="rollout.advanced"))
        stored = flags.get_many(s, [f"b-{i:03d}" for i in range(100)])
    # Each rollout advanced exactly once, its flag moved with it.
    assert len(advances) == 110
    assert {advances[f"a-{i:03d}"] for i in range(10)} == {2}
    assert {advances[f"b-{i:03d}"] for i in range(100)} == {1}
    assert {row.rollout_percentage for row in stored.values()} == {25}
    views = [bot.rollouts.status(f"b-{i:03d}") for i in range(100)]
    assert {(v.state, v.percentage, v.step_number) for v in views} == {
        (RolloutState.RUNNING, 25, 2)
    }
    assert {bot.rollouts.status(f"a-{i:03d}").state for i in range(10)} == {RolloutState.COMPLETED}


def test_more_due_than_a_batch_are_all_advanced_once(
    ticking: Rollbot, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.services.rollouts import changes

    monkeypatch.setattr(changes, "DUE_BATCH", 4)
    bot = ticking
    for i in range(10):
        bot.rollouts.start(f"c-{i:03d}", None, ACTOR)
    clock.advance(timedelta(hours=1, seconds=1))
    assert sorted(o.view.flag_key for o in bot.rollouts.advance_due()) == [
        f"c-{i:03d}" for i in range(10)
    ]
    assert bot.rollouts.advance_due() == []
    with bot.db.read() as s:
        advances = Counter(e.subject_id for e in audit.events(s, action="rollout.advanced"))
    assert advances == Counter({f"c-{i:03d}": 1 for i in range(10)})
