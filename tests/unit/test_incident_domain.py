"""Incident rules: channel names, severities, deadlines, response times, alert payloads."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.alerts import AlertPayloadError, parse_alertmanager, severity_of
from bot.domain.errors import RollbotError
from bot.domain.incident import (
    Deadlines,
    EventKind,
    Severity,
    Status,
    TimelineEvent,
    channel_name,
    format_span,
    incident_key,
    parse_severity,
    parse_status,
    postmortem_overdue,
    response_times,
    slugify,
)
from bot.domain.message import Message

T0 = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
VALID_CHANNEL = re.compile(r"^[a-z0-9_-]{1,80}$")


def test_channel_name_is_prefix_date_and_slug() -> None:
    assert (
        channel_name("inc", T0, "API errors on Checkout!") == "inc-20261129-api-errors-on-checkout"
    )
    assert channel_name("inc", T0, "Störung: Zahlungen (EU)") == "inc-20261129-storung-zahlungen-eu"
    assert channel_name("inc", T0, "!!!") == "inc-20261129-incident"
    assert channel_name("inc", T0, "db", attempt=3) == "inc-20261129-db-3"


@given(st.text(max_size=300), st.integers(min_value=1, max_value=99), st.text(max_size=30))
def test_channel_names_are_always_valid_for_slack(title: str, attempt: int, prefix: str) -> None:
    name = channel_name(prefix, T0, title, attempt)
    assert VALID_CHANNEL.match(name), name
    assert len(name) <= 80


def test_long_titles_are_cut_at_a_word() -> None:
    slug = slugify("database connection pool exhausted on primary cluster in eu-west-1", 40)
    assert len(slug) <= 40 and not slug.endswith("-")
    assert slug == "database-connection-pool-exhausted-on"


def test_incident_key_is_stable() -> None:
    assert incident_key(T0, "API errors", 12) == "inc-20261129-12-api-errors"


@pytest.mark.parametrize("text", ["sev2", "SEV2", "2", "s2", " sev2 "])
def test_severity_spellings(text: str) -> None:
    assert parse_severity(text) is Severity.SEV2


@pytest.mark.parametrize("text", ["sev0", "sev5", "high", ""])
def test_unknown_severity_is_refused_with_a_hint(text: str) -> None:
    with pytest.raises(RollbotError) as caught:
        parse_severity(text)
    assert "sev1" in caught.value.hint


def test_statuses() -> None:
    assert parse_status("Monitoring") is Status.MONITORING
    with pytest.raises(RollbotError, match="not an incident status"):
        parse_status("fixed")


def test_deadlines_default_to_the_reference_plan() -> None:
    d = Deadlines()
    assert d.status_due(T0) == T0 + timedelta(minutes=5)
    assert d.auto_publish_at(T0) == T0 + timedelta(minutes=4)
    assert d.postmortem_due(T0) == T0 + timedelta(hours=48)
    assert d.postmortem_reminder_times(T0) == [T0 + timedelta(hours=24), T0 + timedelta(hours=44)]
    due = d.postmortem_due(T0)
    assert not postmortem_overdue(due, False, T0 + timedelta(hours=47))
    assert postmortem_overdue(due, False, T0 + timedelta(hours=48))
    assert not postmortem_overdue(due, True, T0 + timedelta(hours=60))


def test_auto_publish_must_come_before_the_deadline() -> None:
    with pytest.raises(ValueError, match="before the status update deadline"):
        Deadlines(status_update=timedelta(minutes=5), auto_publish=timedelta(minutes=5))
    with pytest.raises(ValueError, match="reminders"):
        Deadlines(postmortem_reminders=(timedelta(hours=49),))


def ev(minutes: float, kind: EventKind, text: str = "") -> TimelineEvent:
    return TimelineEvent(T0 + timedelta(minutes=minutes), kind, Message(text))


def test_response_times_from_the_first_event_of_each_kind() -> None:
    events = [
        ev(0, EventKind.DECLARED),
        ev(3, EventKind.ACKNOWLEDGED),
        ev(4, EventKind.STATUS_PUBLISHED),
        ev(9, EventKind.STATUS_PUBLISHED),
        ev(10, EventKind.STATUS_CHANGED, "identified (was investigating): bad deploy"),
        ev(25, EventKind.STATUS_CHANGED, "monitoring (was identified): rolled back"),
        ev(40, EventKind.RESOLVED),
    ]
    times = response_times(T0, events)
    assert times.to_acknowledge == timedelta(minutes=3)
    assert times.to_first_status == timedelta(minutes=4)
    assert times.to_mitigate == timedelta(minutes=25)
    assert times.to_resolve == timedelta(minutes=40)


def test_unreached_milestones_and_resolving_without_monitoring() -> None:
    assert response_times(T0, []).to_acknowledge is None
    times = response_times(T0, [ev(12, EventKind.RESOLVED)])
    assert times.to_mitigate == times.to_resolve == timedelta(minutes=12)


def test_format_span() -> None:
    assert format_span(None) == "—"
    assert format_span(timedelta(seconds=42)) == "42s"
    assert format_span(timedelta(minutes=4, seconds=5)) == "4m 5s"
    assert format_span(timedelta(hours=2, minutes=5)) == "2h 5m"
    assert format_span(timedelta(days=1, hours=3)) == "1d 3h"


PAYLOAD = {
    "status": "firing",
    "groupKey": '{}:{alertname="X"}',
    "commonLabels": {"alertname": "HighLatency"},
    "commonAnnotations": {},
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "severity": "warning"},
            "annotations": {"summary": "p95 is 900ms"},
            "fingerprint": "f1",
        },
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "severity": "critical"},
            "annotations": {},
            "fingerprint": "f2",
        },
    ],
}


def test_alertmanager_payload_and_worst_severity() -> None:
    group = parse_alertmanager(PAYLOAD)
    assert group.title == "HighLatency" and group.alerts[0].summary == "p95 is 900ms"
    assert group.alerts[1].summary == "HighLatency"
    mapping = {"critical": "sev1", "warning": "sev3"}
    assert severity_of(group, mapping, "sev3") == "sev1"
    long = parse_alertmanager({**PAYLOAD, "groupKey": "x" * 500})
    assert long.ref.startswith("sha256:") and len(long.ref) < 255


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"status": "firing"},
        {"status": "firing", "groupKey": "g", "alerts": []},
        {"status": "firing", "groupKey": "g", "alerts": ["x"]},
        {**PAYLOAD, "status": "odd"},
    ],
)
def test_not_alertmanager_payloads_are_refused(payload: object) -> None:
    with pytest.raises(AlertPayloadError):
        parse_alertmanager(payload)
