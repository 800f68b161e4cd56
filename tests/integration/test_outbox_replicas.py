"""Two replicas retrying the outbox at the same moment: each late message is posted once,
and each thread still reads in the order things happened."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.services.chat import ChatPorts
from bot.services.rollouts.notifier import CardLocation, ThreadText
from bot.services.rollouts.views import RolloutView
from bot.wording import words

FLAGS = ("realtime-features", "other-flag")


class Thread:
    """One chat both replicas post to: down until told otherwise, slow when up (so two
    replicas delivering at once overlap)."""

    def __init__(self) -> None:
        self.down = True
        self.posts: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def show_card(self, view: RolloutView) -> CardLocation | None:
        return None

    def post_event(self, view: RolloutView, message: ThreadText) -> None:
        if self.down:
            raise RuntimeError("chat is down")
        time.sleep(0.02)
        with self._lock:
            self.posts.append((view.flag_key, words(message).plain()))


@pytest.fixture
def replicas(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> Iterator[tuple[Rollbot, Rollbot, Thread]]:
    chat = Thread()
    ports = replace(ChatPorts.none(), rollouts=chat)
    settings = settings_factory(database_url)
    one, two = build(settings, clock, ports), build(settings, clock, ports)
    try:
        yield one, two, chat
    finally:
        one.db.dispose()
        two.db.dispose()


def test_two_replicas_retrying_at_once_post_each_message_once_in_order(
    replicas: tuple[Rollbot, Rollbot, Thread], clock: ManualClock
) -> None:
    one, two, chat = replicas
    alice = Actor("U_ALICE", Via.SLACK)
    for flag in FLAGS:
        one.rollouts.start(flag, None, alice)
    for step in range(3):  # what happened while the chat was down, alternating replicas
        for flag in FLAGS:
            bot = one if step % 2 == 0 else two
            clock.advance(timedelta(minutes=1))  # past the double-advance guard
            bot.rollouts.advance(flag, alice)
            bot.rollouts.pause(flag, alice)
            bot.rollouts.resume(flag, alice)
    assert chat.posts == []
    chat.down = False
    clock.advance(timedelta(minutes=30))  # every backoff passed

    barrier = threading.Barrier(2)
    delivered: list[int] = []

    def retry(bot: Rollbot) -> None:
        barrier.wait()
        for _ in range(3):
            delivered.append(bot.rollouts.deliver_pending())

    workers = [threading.Thread(target=retry, args=(bot,)) for bot in (one, two)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    for flag in FLAGS:
        posted = [text for key, text in chat.posts if key == flag]
        # Started, then advance / pause / resume three times: each once, in that order.
        assert len(posted) == 10, posted
        assert len(set(posted)) == len(posted), f"posted twice: {posted}"
        kinds = [_kind(text) for text in posted]
        assert kinds == ["start"] + ["advance", "pause", "resume"] * 3, posted
    assert sum(delivered) == 20
    assert one.rollouts.deliver_pending() == 0 and two.rollouts.deliver_pending() == 0


def _kind(text: str) -> str:
    lowered = text.lower()
    for word in ("resume", "pause", "start", "advance"):
        if word in lowered:
            return word
    return text
