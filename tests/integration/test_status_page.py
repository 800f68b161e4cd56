"""The builtin status page: publishing into the database, and /status, .json, .atom."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.clock import ManualClock
from bot.commands.incident import run_incident
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.domain.incident import Impact, Severity
from bot.providers.statuspage.base import StatusUpdate
from bot.providers.statuspage.builtin import BuiltinStatusPage
from bot.web.app import create_app
from tests.conftest import built

AT = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
A = "{http://www.w3.org/2005/Atom}"
CONFIG = """
statuspage:
  providers:
    - type: builtin
      title: Example status
      components: [API, Web app, Realtime]
"""


@pytest.fixture
def bot(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> Iterator[Rollbot]:
    with built(settings_factory(database_url, CONFIG), clock) as rollbot:
        yield rollbot


@pytest.fixture
def page(bot: Rollbot) -> BuiltinStatusPage:
    options = bot.settings.config.statuspage.builtin
    assert options is not None
    return BuiltinStatusPage(bot.db, options)


@pytest.fixture
def client(bot: Rollbot) -> Iterator[TestClient]:
    with TestClient(create_app(bot)) as test_client:
        yield test_client


def update(
    key: str = "inc-20261129-api-errors",
    status: str = "investigating",
    impact: str = "major",
    minutes: int = 0,
    message: str | None = None,
    components: tuple[str, ...] = ("API",),
) -> StatusUpdate:
    return StatusUpdate(
        incident_key=key,
        title=f"Trouble {key}",
        status=status,
        message=message or f"{status} at +{minutes}m",
        impact=impact,
        components=list(components),
        at=AT + timedelta(minutes=minutes),
    )


def test_updates_of_one_incident_update_its_entry_and_append_history(
    page: BuiltinStatusPage, client: TestClient
) -> None:
    reference = page.publish(update())
    assert reference.startswith("/status#inc-20261129-api-errors-")
    page.publish(update(status="identified", impact="critical", minutes=7))
    doc = client.get("/status.json").json()
    assert doc["status"] == {"indicator": "critical", "description": "Major System Outage"}
    assert doc["page"]["title"] == "Example status"
    [incident] = doc["incidents"]
    assert incident["key"] == "inc-20261129-api-errors"
    assert (incident["status"], incident["impact"]) == ("identified", "critical")
    assert incident["started_at"] == "2026-11-29T07:00:00Z"
    assert incident["updated_at"] == "2026-11-29T07:07:00Z"
    assert [u["status"] for u in incident["updates"]] == ["identified", "investigating"]
    assert doc["components"] == [
        {"name": "API", "status": "major_outage"},
        {"name": "Web app", "status": "operational"},
        {"name": "Realtime", "status": "operational"},
    ]
    assert doc["resolved"] == []


def test_resolving_moves_the_incident_to_recently_resolved(
    page: BuiltinStatusPage, client: TestClient
) -> None:
    page.publish(update())
    page.publish(update("inc-b", impact="minor", components=("Realtime", "Search")))
    doc = client.get("/status.json").json()
    assert doc["status"]["indicator"] == "major"
    statuses = {c["name"]: c["status"] for c in doc["components"]}
    assert statuses == {
        "API": "partial_outage",
        "Web app": "operational",
        "Realtime": "degraded_performance",
        "Search": "degraded_performance",  # named by an incident, not configured: shown too
    }
    page.publish(update(status="resolved", minutes=40))
    doc = client.get("/status.json").json()
    assert [i["key"] for i in doc["incidents"]] == ["inc-b"]
    assert doc["status"]["indicator"] == "minor"
    [resolved] = doc["resolved"]
    assert resolved["resolved_at"] == "2026-11-29T07:40:00Z"
    assert len(resolved["updates"]) == 2
    page.publish(update("inc-b", status="resolved", minutes=50))
    doc = client.get("/status.json").json()
    assert doc["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert all(c["status"] == "operational" for c in doc["components"])
    assert [i["key"] for i in doc["resolved"]] == ["inc-b", "inc-20261129-api-errors"]


def test_a_new_update_after_resolution_reopens_the_incident(
    page: BuiltinStatusPage, client: TestClient
) -> None:
    page.publish(update())
    page.publish(update(status="resolved", minutes=5))
    page.publish(update(status="investigating", minutes=9, message="It is back."))
    doc = client.get("/status.json").json()
    assert [i["key"] for i in doc["incidents"]] == ["inc-20261129-api-errors"]
    assert doc["incidents"][0]["resolved_at"] is None
    assert doc["incidents"][0]["updates"][0]["message"] == "It is back."
    assert doc["resolved"] == []


def test_html_page_shows_state_history_and_escapes_text(
    page: BuiltinStatusPage, client: TestClient
) -> None:
    empty = client.get("/status")
    assert empty.status_code == 200
    assert "All Systems Operational" in empty.text and "Example status" in empty.text
    page.publish(update(message="Errors on <script>alert(1)</script> & co"))
    page.publish(update(status="monitoring", minutes=20, message="A fix is out."))
    html = client.get("/status")
    assert html.headers["content-type"].startswith("text/html")
    text = html.text
    assert "Partial System Outage" in text
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text
    assert text.index("A fix is out.") < text.index("Errors on")  # newest first
    assert "Monitoring" in text and "Investigating" in text
    assert "Nov 29, 2026 07:20 UTC" in text
    assert 'href="http://testserver/status.atom"' in text


def test_atom_feed_is_valid_with_one_entry_per_update(
    page: BuiltinStatusPage, client: TestClient
) -> None:
    page.publish(update())
    page.publish(update("inc-b", minutes=3, message="Second & <other>"))
    page.publish(update(status="resolved", minutes=9))
    response = client.get("/status.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    check_atom(feed)
    entries = feed.findall(f"{A}entry")
    assert len(entries) == 3
    assert [e.findtext(f"{A}updated") for e in entries] == [
        "2026-11-29T07:09:00Z",
        "2026-11-29T07:03:00Z",
        "2026-11-29T07:00:00Z",
    ]
    assert feed.findtext(f"{A}updated") == "2026-11-29T07:09:00Z"
    assert entries[0].findtext(f"{A}title") == "Trouble inc-20261129-api-errors: Resolved"
    assert entries[1].findtext(f"{A}content") == "Second & <other>"
    assert entries[0].find(f"{A}category").get("term") == "resolved"  # type: ignore[union-attr]


def test_empty_atom_feed_is_valid_and_dated_now(client: TestClient, bot: Rollbot) -> None:
    feed = ET.fromstring(client.get("/status.atom").content)
    check_atom(feed)
    assert feed.findall(f"{A}entry") == []
    assert feed.findtext(f"{A}updated") == bot.clock.now().isoformat().replace("+00:00", "Z")


def check_atom(feed: ET.Element) -> None:
    """What RFC 4287 requires: feed id/title/updated, an author, entries with id/title/
    updated, RFC 3339 dates, unique entry ids, and a self link."""
    assert feed.tag == f"{A}feed"
    for name in ("id", "title", "updated"):
        assert len(feed.findall(f"{A}{name}")) == 1, name
    assert feed.find(f"{A}author/{A}name") is not None
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{A}link")}
    assert links["self"] is not None and links["self"].endswith("/status.atom")
    ids = []
    for entry in feed.findall(f"{A}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{A}{name}")) == 1, name
        ids.append(entry.findtext(f"{A}id"))
        datetime.fromisoformat(str(entry.findtext(f"{A}updated")))
        assert str(entry.findtext(f"{A}updated")).endswith("Z")
    datetime.fromisoformat(str(feed.findtext(f"{A}updated")))
    assert len(ids) == len(set(ids))
    assert all(i and i.startswith("http") for i in ids)


def test_concurrent_first_updates_make_one_incident(bot: Rollbot, page: BuiltinStatusPage) -> None:
    count = 8
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def publish(minutes: int) -> None:
        start.wait()  # all first updates at the same moment
        try:
            page.publish(update(minutes=minutes))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(m,)) for m in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert bot.public_status is not None
    view = bot.public_status.page()
    assert len(view.active) == 1
    assert len(view.active[0].updates) == count


def test_public_url_is_used_for_links(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> None:
    config = CONFIG + "      public_url: https://status.example.com/\n"
    rollbot = build(settings_factory(database_url, config), clock)
    try:
        options = rollbot.settings.config.statuspage.builtin
        assert options is not None
        ref = BuiltinStatusPage(rollbot.db, options).publish(update())
        assert ref.startswith("https://status.example.com/status#inc-20261129-api-errors-")
        with TestClient(create_app(rollbot)) as client:
            feed = ET.fromstring(client.get("/status.atom").content)
            doc: dict[str, Any] = client.get("/status.json").json()
        assert feed.findtext(f"{A}id") == "https://status.example.com/status"
        assert doc["incidents"][0]["url"] == (
            "https://status.example.com/status#inc-20261129-api-errors"
        )
    finally:
        rollbot.db.dispose()


def test_the_page_is_404_when_the_builtin_provider_is_not_configured(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> None:
    config = (
        "statuspage:\n  providers:\n    - type: webhook\n      url: https://hooks.example.com/x\n"
    )
    rollbot = build(settings_factory(database_url, config), clock)
    try:
        with TestClient(create_app(rollbot)) as client:
            for path in ("/status", "/status.json", "/status.atom"):
                response = client.get(path)
                assert response.status_code == 404
                assert "type: builtin" in response.json()["hint"]
    finally:
        rollbot.db.dispose()


def test_an_incident_declared_without_components_never_shows_all_operational(
    bot: Rollbot, clock: ManualClock
) -> None:
    """The declared incident's start is its declaration, not the first publish; and with
    no component named, the page does not say every component is operational under an
    outage headline."""
    declared_at = clock.now()
    bot.incidents.declare(
        Severity.SEV2, "Checkout errors", Actor("U0ALICE", Via.SLACK), impact=Impact.MAJOR
    )
    clock.advance(timedelta(minutes=4))
    bot.incidents.run_due()  # the first status update goes out by itself
    assert bot.public_status is not None
    view = bot.public_status.page()
    (incident,) = view.active
    assert incident.started_at == declared_at
    assert view.description == "Partial System Outage"
    assert {c.status for c in view.components} == {"partial_outage"}


def test_components_named_when_declaring_are_the_ones_shown(
    bot: Rollbot, clock: ManualClock
) -> None:
    reply = run_incident(
        "declare sev2 Checkout errors --components API", Actor("carol", Via.SHELL), bot.incidents
    )
    assert reply.incident is not None and reply.incident.title == "Checkout errors"
    assert reply.incident.components == ["API"]
    clock.advance(timedelta(minutes=4))
    bot.incidents.run_due()
    assert bot.public_status is not None
    statuses = {c.name: c.status for c in bot.public_status.page().components}
    assert statuses["API"] != "operational" and statuses["Web app"] == "operational"
