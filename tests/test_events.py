"""Events as data: kept in a row and read back as they were, worded by the adapters' words."""

from __future__ import annotations

import pytest

from bot.domain.actor import SCHEDULER, Actor, Via
from bot.domain.message import Code, Message
from bot.services.events import Event, event_data, event_of, said_data, said_of
from bot.services.rollouts.events import RolloutChanged, RolloutStarted
from bot.wording import words


def test_an_event_is_read_back_as_it_was_written() -> None:
    said = RolloutChanged(
        action="rollout.advanced",
        actor=Actor("U1", Via.SLACK),
        before_percentage=0,
        after_percentage=5,
        phase="Phase 2",
        step="5% of users",
        segments={"internal": 100},
    )
    data = event_data(said)
    assert data["event"] == "rollout.changed"
    assert event_of(data) == said
    assert said_of(said_data(said)) == said


def test_a_message_kept_before_events_still_reads_back() -> None:
    message = Message("set by hand to ", Code("5%"))
    assert said_of(said_data(message)) == message
    assert said_of("old mrkdwn text") == Message("old mrkdwn text")


def test_the_adapters_word_events_and_pass_messages_through() -> None:
    started = RolloutStarted("chat-v2", "Realtime", "Phase 1", "Staging", 0, SCHEDULER)
    assert words(started).plain() == (
        "rollbot started the rollout of chat-v2 with plan Realtime: Phase 1, Staging (0%)."
    )
    message = Message("as it is")
    assert words(message) is message


def test_an_event_nobody_words_or_registered_twice_is_refused() -> None:
    class Unworded(Event, kind="test.unworded"):
        pass

    assert Unworded.kind == Unworded().kind == "test.unworded"
    assert event_of(event_data(Unworded())) == Unworded()
    with pytest.raises(TypeError, match="no words for the event Unworded"):
        words(Unworded())
    with pytest.raises(ValueError, match=r"two events of kind 'test\.unworded'"):

        class Clash(Event, kind="test.unworded"):
            pass

    with pytest.raises(ValueError, match=r"no event of kind 'test\.gone'"):
        event_of({"event": "test.gone", "data": {}})


def test_an_event_is_frozen_and_its_kind_is_not_a_field() -> None:
    class Noted(Event, kind="test.noted"):
        text: str

    noted = Noted("a")
    with pytest.raises(AttributeError):
        noted.text = "b"  # type: ignore[misc]
    with pytest.raises(TypeError, match="Shadowed: an event's kind is its class keyword"):

        class Shadowed(Event, kind="test.shadowed"):
            kind: str  # type: ignore[misc]
