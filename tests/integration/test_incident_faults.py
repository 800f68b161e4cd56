"""PagerDuty and the status page down for three minutes while an incident is declared: the
incident still opens, the first status update still goes out within five minutes of
declaration — through the fallback page, or through the primary as soon as it is back —
and the timeline and the channel say which page took it and that the primary was down.
The outages are windows on rollbot's (manual) clock."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import NamedTuple

import pytest

from bot.clock import ManualClock
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.domain.incident import Severity
from bot.services.chat import ChatPorts
from bot.services.incidents.ports import OnCall
from bot.services.incidents.views import IncidentView
from bot.store import incidents as store
from tests.fakes.incidents import FakePager, FakeStatusPage, RecordingChat

ALICE = Actor("U0ALICE", Via.SLACK)
ONCALL = "U0ONCALL"


Start = Callable[[list[FakeStatusPage], FakePager], tuple[Rollbot, RecordingChat]]


@pytest.fixture
def start(settings: Settings, clock: ManualClock) -> Iterator[Start]:
    """rollbot built with these status pages (primary first) and this pager, and a chat
    that records what incidents say."""
    built: list[Rollbot] = []

    def make(pages: list[FakeStatusPage], pager: FakePager) -> tuple[Rollbot, RecordingChat]:
        chat = RecordingChat(users={"oncall@example.com": ONCALL})
        ports = replace(ChatPorts.none(), incidents=chat)
        bot = build(settings, clock, ports, pager=pager, status_pages=list(pages))
        built.append(bot)
        return bot, chat

    yield make
    for bot in built:
        bot.db.dispose()


def timeline(bot: Rollbot, incident_id: int) -> str:
    with bot.db.session() as s:
        return "\n".join(f"{e.kind.value}: {e.text}" for e in store.timeline(s, incident_id))


def run_for(bot: Rollbot, clock: ManualClock, minutes: float, step_s: int = 5) -> None:
    """The scheduler's incident tick every `step_s` seconds of rollbot's clock."""
    for _ in range(int(minutes * 60 / step_s)):
        clock.advance(timedelta(seconds=step_s))
        bot.incidents.run_due()


def publish_at_once(bot: Rollbot, clock: ManualClock, incident_id: int) -> None:
    """A minute in, the commander (the declarer: the on-call lookup failed) publishes the
    draft, into the outage."""
    with bot.db.session() as s:
        [draft] = store.updates_of(s, incident_id)
    assert draft.id is not None
    clock.advance(timedelta(minutes=1))
    bot.incidents.publish_draft(draft.id, ALICE)


class Outage(NamedTuple):
    """An incident declared as the primary status page and PagerDuty went down."""

    rollbot: Rollbot
    chat: RecordingChat
    pager: FakePager
    incident: IncidentView
    back_at: datetime  # when both answer again


def declared_in_an_outage(start: Start, clock: ManualClock, pages: list[FakeStatusPage]) -> Outage:
    """The primary page (`pages[0]`) and PagerDuty down for three minutes; an incident
    declared as they go down, its draft published a minute in, five minutes of ticks."""
    pager = FakePager(OnCall("Olga On-Call", "oncall@example.com", "PUSER01"))
    rollbot, chat = start(pages, pager)
    back_at = clock.now() + timedelta(minutes=3)
    pages[0].down(clock.now, back_at)
    pager.down(clock.now, back_at)
    incident = rollbot.incidents.declare(Severity.SEV2, "Checkout errors", ALICE).view
    publish_at_once(rollbot, clock, incident.id)
    run_for(rollbot, clock, minutes=5)
    return Outage(rollbot, chat, pager, incident, back_at)


def test_the_fallback_page_takes_the_first_update_in_time_and_says_the_primary_was_down(
    start: Start, clock: ManualClock
) -> None:
    primary, fallback = FakeStatusPage("statuspage"), FakeStatusPage("builtin")
    rollbot, chat, pager, incident, back_at = declared_in_an_outage(
        start, clock, [primary, fallback]
    )

    [update] = fallback.published
    assert update.status == "investigating" and primary.published == []
    with rollbot.db.session() as s:
        [row] = store.updates_of(s, incident.id)
    assert row.provider_used == "builtin"
    assert row.published_at is not None and row.published_at <= incident.status_deadline
    assert row.published_at < back_at  # the fallback did not wait for the primary
    said = timeline(rollbot, incident.id)
    assert "published to builtin (builtin-1), the fallback: statuspage was down" in said, said
    assert "HTTP 503" in said and "deadline_missed" not in said, said
    posted = chat.said()
    assert "Status update published to builtin, the fallback: statuspage was down" in posted

    # The page went out once PagerDuty was back, once; the timeline says it was late.
    assert pager.refused >= 2  # the on-call lookup and the first page
    assert [e["event_action"] for e in pager.events] == ["trigger"]
    assert "Could not page the on-call engineer" in said
    run_for(rollbot, clock, minutes=2)
    assert [e["event_action"] for e in pager.events] == ["trigger"]
    assert len(fallback.published) == 1  # nothing twice


def test_without_a_fallback_the_primary_takes_it_as_soon_as_it_is_back(
    start: Start, clock: ManualClock
) -> None:
    primary = FakeStatusPage("statuspage")
    rollbot, chat, pager, incident, back_at = declared_in_an_outage(start, clock, [primary])

    [update] = primary.published
    assert update.status == "investigating"
    with rollbot.db.session() as s:
        [row] = store.updates_of(s, incident.id)
    assert row.published_at is not None
    # As soon as it is back: within the longest retry wait (30 s), before the deadline.
    assert back_at <= row.published_at <= back_at + timedelta(seconds=30)
    assert row.published_at <= incident.status_deadline
    said = timeline(rollbot, incident.id)
    assert re.search(r"published to statuspage \(statuspage-1\), after \d+ failed attempts", said)
    assert "Status update published to statuspage, after" in chat.said()
    assert [e["event_action"] for e in pager.events] == ["trigger"]
    run_for(rollbot, clock, minutes=2)
    assert len(primary.published) == 1 and len(pager.events) == 1
