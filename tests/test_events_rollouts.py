"""Rollout events as data: each reads back from its row as it was and is worded as the
service worded it before it was an event (the thread's changes, the card's waiting line)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.domain.actor import SCHEDULER, Actor, Via
from bot.domain.rollout import RolloutState
from bot.services.events import Event, said_data, said_of
from bot.services.rollouts.events import RolloutChanged, RolloutStarted, RolloutWait
from bot.wording import WORDS, words

ALICE = Actor("UALICE", Via.SLACK)
RUNNING, PAUSED = RolloutState.RUNNING, RolloutState.PAUSED

WORDED: list[tuple[Any, str]] = [
    (RolloutStarted("chat-v2", "Realtime", "Phase 1", "Staging", 0, ALICE),
     "@UALICE started the rollout of chat-v2 with plan Realtime: Phase 1, Staging (0%)."),
    (RolloutChanged("rollout.advanced", SCHEDULER, 5, 25, "Phase 2", "25% of users"),
     "bake time passed, advanced from 5% to 25%: Phase 2, 25% of users."),
    (RolloutWait(RolloutState.COMPLETED), "Complete: the feature is fully on."),
    (RolloutWait(RolloutState.ROLLED_BACK), "Rolled back."),
    (RolloutWait(PAUSED, True, left=timedelta(hours=2, minutes=30)),
     "Paused (2h 30m of bake time left). Resume to continue."),
    (RolloutWait(PAUSED), "Paused. Resume to continue."),
    (RolloutWait(RUNNING, True), "Waiting for someone to advance it."),
    (RolloutWait(RUNNING, True, True, timedelta(hours=1)), "Baking: advances by itself in 1h."),
    (RolloutWait(RUNNING, False, True, timedelta(days=1)),
     "Baking: ready to advance by hand in 1d."),
    (RolloutWait(RUNNING, True, True), "Bake time passed: advancing now."),
    (RolloutWait(RUNNING, False, True),
     "Bake time passed: waiting for someone to advance it."),
]  # fmt: skip


@pytest.mark.parametrize(("said", "plain"), WORDED, ids=lambda x: type(x).__name__)
def test_each_event_is_worded_as_the_service_worded_it(said: Event, plain: str) -> None:
    assert words(said).plain() == plain


@pytest.mark.parametrize("said", [s for s, _ in WORDED], ids=lambda x: type(x).__name__)
def test_each_event_reads_back_from_its_row_as_it_was(said: Event) -> None:
    assert said_of(said_data(said)) == said


def test_every_rollout_event_has_words_and_a_sample() -> None:
    kinds = {type(s) for s, _ in WORDED}
    mine = {cls for cls in WORDS if cls.__module__.startswith("bot.services.rollouts")}
    assert mine == kinds
