"""The flag's lines on a rollout card are data, worded by bot/wording/flags.py."""

from __future__ import annotations

from bot.domain.message import Strong
from bot.services.events import Said, said_data, said_of
from bot.services.flags.events import FlagMonitoringOff, FlagSegmentsNote
from bot.wording import words

EVENTS: list[Said] = [
    FlagSegmentsNote({"beta": 25, "internal": 100}, 5),
    FlagMonitoringOff("chat-v2"),
]


def test_each_flag_note_is_read_back_as_it_was_written() -> None:
    for said in EVENTS:
        assert said_of(said_data(said)) == said


def test_the_segments_note_names_each_segment_and_everyone_else() -> None:
    said = words(FlagSegmentsNote({"internal": 100, "beta": 25}, 5))
    assert said.plain() == "Segments: beta 25%, internal 100%; everyone else 5%"
    assert said.parts[0] == Strong("Segments:")


def test_a_segment_name_stays_plain_text_for_the_adapters_to_escape() -> None:
    said = words(FlagSegmentsNote({"<!channel>": 10}, 0))
    assert " <!channel> 10%; everyone else 0%" in said.parts


def test_monitoring_off_warns_that_triggers_are_not_evaluated() -> None:
    assert words(FlagMonitoringOff("chat-v2")).plain() == (
        "Monitoring off for this flag (monitoring_enabled: false): triggers are not evaluated"
    )
