"""Incident events: kept as data and read back as they were, and worded as the incident
services used to word them (user text stays a plain str part, for the adapters to escape)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.actor import SCHEDULER, Actor, Via
from bot.domain.message import Code, GroupMention, Mention, Sign, Strong
from bot.services.events import said_data, said_of
from bot.services.incidents import events
from bot.wording import WORDS, words
from bot.wording import incidents as incident_words

ALICE = Actor("U0ALICE", Via.SLACK)
HOSTILE = "<!channel> *everyone* `now`"

# One sample of each event kind, and its words as plain text.
SAMPLES: list[tuple[Any, str]] = [
    (
        events.IncidentDeclared("sev2", "API errors", "C0INC"),
        "Declared SEV2 API errors in #C0INC.",
    ),
    (events.IncidentDeclared("sev3", "API errors"), "Declared SEV3 API errors."),
    (events.IncidentAcknowledged(ALICE, "API errors"), "@U0ALICE acknowledged API errors."),
    (events.NoteAdded(), "Added to the timeline."),
    (events.IncidentPaged("Operations Lead"), "Paged Operations Lead."),
    (
        events.IncidentPaged("U0CAROL", person=True, pagerduty_incident="Q0001"),
        "Paged @U0CAROL through PagerDuty (incident Q0001).",
    ),
    (
        events.IncidentPaged("SRE on call", not_paged_because="PagerDuty is not configured"),
        "Paged SRE on call (not through PagerDuty: PagerDuty is not configured).",
    ),
    (events.StatusChanged("identified", True), "Status is now identified; update published."),
    (
        events.StatusChanged("monitoring", False),
        "Status is now monitoring; update queued (the status page did not answer; retrying).",
    ),
    (events.DraftPublished(ALICE, True), "Status update published by @U0ALICE."),
    (
        events.DraftPublished(SCHEDULER, False),
        "The status page did not take it yet; rollbot keeps retrying (see the card).",
    ),
    (
        events.IncidentResolved("API errors", datetime(2026, 12, 3, 9, 30, tzinfo=UTC)),
        "Resolved API errors. Post-mortem draft uploaded (due 2026-12-03 09:30 UTC).",
    ),
    (events.PostmortemRendered(), "Post-mortem re-rendered from the timeline and uploaded."),
    (events.PostmortemDone(), "Post-mortem marked done; reminders stopped."),
    (
        events.IncidentAnnounced("sev1", "API errors", "C0INC"),
        "SEV1 incident declared: API errors — follow it in #C0INC.",
    ),
    (
        events.NeededInIncident(ALICE, "API errors", "sev2", "C0INC"),
        "@U0ALICE needs you in incident API errors (SEV2): #C0INC",
    ),
    (
        events.GroupNeeded("S0OPS", "Operations Lead"),
        "@S0OPS Operations Lead is needed here.",
    ),
    (
        events.StatusUpdatePublished(
            "investigating", "We are looking into it.", "statuspage", "statuspage"
        ),
        "Status update published (investigating): We are looking into it.",
    ),
    (
        events.StatusUpdatePublished(
            "investigating", "Looking.", "backup", "statuspage", 2, "statuspage: HTTP 503"
        ),
        "Status update published to backup, the fallback: statuspage was down "
        "(2 failed attempts; last: statuspage: HTTP 503) (investigating): Looking.",
    ),
    (
        events.StatusDeadlineMissed("API errors", timedelta(minutes=5), "statuspage: HTTP 500"),
        "The first status update was not published within 5m of declaration. "
        "Last error: statuspage: HTTP 500 rollbot keeps trying.",
    ),
    (
        events.StatusDeadlineMissed("API errors", timedelta(minutes=5), to_commander=True),
        "API errors: The first status update was not published within 5m of declaration.",
    ),
    (
        events.UpdateNudge("API errors", timedelta(minutes=30), to_commander=True),
        "API errors: No status update for 30m. Post one with "
        "/incident update <investigating|identified|monitoring|resolved> <message>.",
    ),
    (
        events.PostmortemReminder("API errors", timedelta(hours=24)),
        "The post-mortem of API errors is due in 1d. Fill in the draft, then mark it done "
        "with /incident postmortem done.",
    ),
    (
        events.PostmortemOverdue("API errors"),
        "The post-mortem of API errors is overdue. Mark it done with /incident postmortem done.",
    ),
    (
        events.PostmortemOverdue("API errors", to_commander=True),
        "The post-mortem of API errors is overdue.",
    ),
    (
        events.ContactReach("Database on call", "dba", ("U0DBA",), "S0DBA", ("+1 555 0100",)),
        "Database on call (dba): @U0DBA, @S0DBA · +1 555 0100",
    ),
]


@pytest.mark.parametrize(("said", "plain"), SAMPLES)
def test_each_incident_event_reads_back_and_is_worded(said: Any, plain: str) -> None:
    assert said_of(said_data(said)) == said
    assert words(said).plain() == plain


def test_every_incident_event_has_words_and_a_sample() -> None:
    sampled = {type(said) for said, _ in SAMPLES}
    assert set(incident_words.WORDS) == sampled
    assert all(WORDS[cls] is incident_words.WORDS[cls] for cls in sampled)


def test_user_text_stays_a_plain_part_for_the_adapters_to_escape() -> None:
    published = words(
        events.StatusUpdatePublished("identified", HOSTILE, "statuspage", "statuspage")
    )
    assert published.parts[0] is Sign.ANNOUNCE
    assert published.parts[-1] == HOSTILE
    declared = words(events.IncidentDeclared("sev2", HOSTILE))
    assert Strong(HOSTILE) in declared.parts
    needed = words(events.NeededInIncident(Actor("carol", Via.SHELL), HOSTILE, "sev1"))
    assert needed.parts[1] == "carol"
    assert Strong(HOSTILE) in needed.parts


def test_people_groups_and_commands_are_marked_not_written() -> None:
    paged = words(events.IncidentPaged("U0CAROL", person=True))
    assert Mention("U0CAROL") in paged.parts
    group = words(events.GroupNeeded("S0OPS", "U0CAROL", person=True))
    assert group.parts[:4] == (Sign.INCIDENT, GroupMention("S0OPS"), " ", Mention("U0CAROL"))
    nudge = words(events.UpdateNudge("API errors", timedelta(minutes=30)))
    assert nudge.parts[0] is Sign.REMINDER
    assert any(isinstance(p, Code) for p in nudge.parts)
