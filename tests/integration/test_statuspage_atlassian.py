"""The Atlassian Statuspage provider against a fake Statuspage API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.providers.statuspage.atlassian import AtlassianStatusPage
from bot.providers.statuspage.base import StatusPageError, StatusUpdate
from bot.store import statuspage as repo
from bot.store.database import Database
from tests.fakes.statuspage_api import API_KEY, FakeStatuspage, fake_statuspage_fixture

fake_statuspage = pytest.fixture(fake_statuspage_fixture)
AT = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
COMPONENTS = {"API": "cmp_api", "Realtime": "cmp_rt", "Web": "cmp_web"}


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        database.dispose()


def make(db: Database, fake: FakeStatuspage, api_key: str = API_KEY) -> AtlassianStatusPage:
    return AtlassianStatusPage(
        db, page_id="pg1", api_key=api_key, api_url=fake.url, components=COMPONENTS
    )


def update(status: str = "investigating", impact: str = "major", minutes: int = 0) -> StatusUpdate:
    return StatusUpdate(
        incident_key="inc-20261129-api-errors",
        title="Elevated API errors",
        status=status,
        message=f"We are {status}.",
        impact=impact,
        components=["API", "Realtime"],
        at=AT + timedelta(minutes=minutes),
    )


def test_first_update_creates_the_incident_later_ones_patch_it(
    db: Database, fake_statuspage: FakeStatuspage
) -> None:
    provider = make(db, fake_statuspage)
    assert provider.publish(update()) == "https://stspg.io/inc0001"
    assert provider.publish(update("identified", minutes=10)) == "https://stspg.io/inc0001"
    first, second = fake_statuspage.calls
    assert (first.method, first.path, first.status) == ("POST", "/v1/pages/pg1/incidents", 201)
    assert first.headers["authorization"] == f"OAuth {API_KEY}"
    assert first.body == {
        "incident": {
            "name": "Elevated API errors",
            "status": "investigating",
            "body": "We are investigating.",
            "impact_override": "major",
            "component_ids": ["cmp_api", "cmp_rt"],
            "components": {"cmp_api": "partial_outage", "cmp_rt": "partial_outage"},
            "deliver_notifications": True,
            "metadata": {"rollbot": {"incident_key": "inc-20261129-api-errors"}},
        }
    }
    assert (second.method, second.path, second.status) == (
        "PATCH",
        "/v1/pages/pg1/incidents/inc0001",
        200,
    )
    assert second.body["incident"]["status"] == "identified"
    assert "deliver_notifications" not in second.body["incident"]
    assert len(fake_statuspage.incidents) == 1


@pytest.mark.parametrize(
    ("status", "impact", "component_status"),
    [
        ("investigating", "none", "operational"),
        ("investigating", "minor", "degraded_performance"),
        ("monitoring", "major", "partial_outage"),
        ("identified", "critical", "major_outage"),
        ("resolved", "critical", "operational"),
    ],
)
def test_component_status_follows_impact_and_resolution(
    db: Database, fake_statuspage: FakeStatuspage, status: str, impact: str, component_status: str
) -> None:
    make(db, fake_statuspage).publish(update(status, impact))
    sent = fake_statuspage.calls[-1].body["incident"]
    assert sent["components"] == {"cmp_api": component_status, "cmp_rt": component_status}
    assert sent["impact_override"] == impact


def test_a_restart_keeps_updating_the_same_incident(
    database_url: str, fake_statuspage: FakeStatuspage
) -> None:
    first = Database(database_url)
    try:
        make(first, fake_statuspage).publish(update())
    finally:
        first.dispose()
    again = Database(database_url)  # a new process on the same database
    try:
        make(again, fake_statuspage).publish(update("resolved", minutes=30))
    finally:
        again.dispose()
    assert [c.method for c in fake_statuspage.calls] == ["POST", "PATCH"]
    assert fake_statuspage.calls[1].path == "/v1/pages/pg1/incidents/inc0001"
    assert fake_statuspage.incidents["inc0001"]["status"] == "resolved"


def test_500_is_an_error_and_the_retry_creates_the_incident_once(
    db: Database, fake_statuspage: FakeStatuspage
) -> None:
    page = make(db, fake_statuspage)
    fake_statuspage.fail_next(500)
    with pytest.raises(StatusPageError, match="HTTP 500"):
        page.publish(update())
    assert page.publish(update()) == "https://stspg.io/inc0001"
    assert [c.status for c in fake_statuspage.calls] == [500, 201]
    assert len(fake_statuspage.incidents) == 1


def test_an_unknown_component_is_skipped_not_fatal(
    db: Database, fake_statuspage: FakeStatuspage
) -> None:
    odd = StatusUpdate("inc-x", "Odd", "investigating", "m", "minor", ["API", "Billing"], AT)
    make(db, fake_statuspage).publish(odd)
    sent = fake_statuspage.calls[0].body["incident"]
    assert sent["component_ids"] == ["cmp_api"]


def test_errors_never_contain_the_api_key(db: Database, fake_statuspage: FakeStatuspage) -> None:
    wrong = "sp-wrong-key-98765"
    with pytest.raises(StatusPageError) as raised:
        make(db, fake_statuspage, api_key=wrong).publish(update())
    assert "HTTP 401" in str(raised.value) and "Could not authenticate" in str(raised.value)
    assert wrong not in str(raised.value)
    with db.session() as session:  # nothing remembered: the next try creates it again
        assert repo.external_id(session, "statuspage:pg1", "inc-20261129-api-errors") is None


def test_an_unreachable_api_is_a_status_page_error(db: Database) -> None:
    with FakeStatuspage() as fake:
        url = fake.url
    provider = AtlassianStatusPage(db, page_id="pg1", api_key=API_KEY, api_url=url)
    with pytest.raises(StatusPageError, match="ConnectError") as raised:
        provider.publish(update())
    assert API_KEY not in str(raised.value)


def test_an_invalid_update_is_refused_before_any_request(
    db: Database, fake_statuspage: FakeStatuspage
) -> None:
    with pytest.raises(StatusPageError, match="unknown status"):
        make(db, fake_statuspage).publish(update(status="fixed"))
    with pytest.raises(StatusPageError, match="unknown impact"):
        make(db, fake_statuspage).publish(update(impact="huge"))
    assert fake_statuspage.calls == []


def test_the_live_check_asks_for_the_page_without_publishing(
    db: Database, fake_statuspage: FakeStatuspage
) -> None:
    assert make(db, fake_statuspage).check() == "page 'Page pg1' answered"
    with pytest.raises(StatusPageError, match="GET page: HTTP 401") as raised:
        make(db, fake_statuspage, api_key="sp-wrong-key-1111").check()
    assert "sp-wrong-key-1111" not in str(raised.value)
    assert fake_statuspage.incidents == {}  # nothing was published
