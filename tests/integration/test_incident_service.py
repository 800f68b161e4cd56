"""IncidentService against a real database (SQLite file and PostgreSQL), with fake
status pages, a fake pager and a recording chat; the clock moves by hand."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.commands.incident import page_target
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.domain.errors import Conflict, RollbotError
from bot.domain.incident import EventKind, Severity, Status
from bot.services.chat import ChatPorts
from bot.services.incidents.ports import OnCall
from bot.slack.mrkdwn import mrkdwn
from bot.store import incidents as store
from bot.wording import words
from tests.fakes.incidents import FakePager, FakeStatusPage, RecordingChat, message

ALICE = Actor("U0ALICE", Via.SLACK)
ONCALL = "U0ONCALL"


@dataclass
class Kit:
    bot: Rollbot
    clock: ManualClock
    chat: RecordingChat
    pager: FakePager
    primary: FakeStatusPage
    fallback: FakeStatusPage


def recording_ports() -> ChatPorts:
    return replace(ChatPorts.none(), incidents=RecordingChat(users={"oncall@example.com": ONCALL}))


@pytest.fixture
def chat_ports() -> ChatPorts:
    """The `rollbot` fixture's chat records what incidents say."""
    return recording_ports()


def start(
    settings: Settings, clock: ManualClock, pages: list[Any], pager: FakePager | None = None
) -> Rollbot:
    """A rollbot process on the test's database, with a recording chat, the fake status pages
    (primary first) and a fake pager."""
    return build(settings, clock, recording_ports(), pager=pager or FakePager(), status_pages=pages)


def recorded(bot: Rollbot) -> RecordingChat:
    """What `bot` said in incident channels, cards and drafts."""
    chat = bot.incidents.chat
    assert isinstance(chat, RecordingChat)
    return chat


@pytest.fixture
def make_kit(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> Iterator[Callable[..., Kit]]:
    """Build a kit: rollbot with `extra_yaml` in its config, the primary fake status page
    (or `first` in its place), the fallback page unless `fallback=False`, and a fake pager
    that knows the on-call engineer."""
    built: list[Rollbot] = []

    def make(extra_yaml: str = "", *, first: Any = None, fallback: bool = True) -> Kit:
        pager = FakePager(OnCall("Olga On-Call", "oncall@example.com", "PUSER01"))
        primary, backup = FakeStatusPage("statuspage"), FakeStatusPage("builtin")
        pages = [primary if first is None else first] + ([backup] if fallback else [])
        bot = start(settings_factory(database_url, extra_yaml), clock, pages, pager)
        built.append(bot)
        return Kit(bot, clock, recorded(bot), pager, primary, backup)

    try:
        yield make
    finally:
        for bot in built:
            bot.db.dispose()


@pytest.fixture
def kit(make_kit: Callable[..., Kit]) -> Kit:
    return make_kit()


def kinds(kit: Kit, incident_id: int) -> list[str]:
    with kit.bot.db.session() as s:
        return [e.kind.value for e in store.timeline(s, incident_id)]


def timeline_text(kit: Kit, incident_id: int) -> str:
    with kit.bot.db.session() as s:
        return "\n".join(f"{e.kind.value}: {e.text}" for e in store.timeline(s, incident_id))


def declare(kit: Kit, title: str = "API errors on checkout") -> int:
    return kit.bot.incidents.declare(Severity.SEV2, title, ALICE, components=["api"]).view.id


def test_declare_opens_channel_pages_on_call_and_drafts_the_first_update(kit: Kit) -> None:
    outcome = kit.bot.incidents.declare(Severity.SEV2, "API errors on checkout", ALICE)
    view = outcome.view
    assert view.channel_name == "inc-20261102-api-errors-on-checkout"
    assert view.channel_id == kit.chat.channels[view.channel_name]
    assert view.commander == ONCALL  # the on-call engineer, found by email
    assert kit.chat.invites == [(view.channel_id, sorted([ONCALL, ALICE.id]))]
    assert view.card_ts is not None and kit.chat.cards[-1].channel_id == view.channel_id
    trigger = kit.pager.events[0]
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == view.key
    assert trigger["payload"]["summary"] == "[SEV2] API errors on checkout"
    assert (trigger["payload"]["source"], trigger["payload"]["severity"]) == ("rollbot", "error")
    user, draft = kit.chat.drafts[0]
    assert user == ONCALL and draft.status == "investigating" and draft.state == "draft"
    assert "investigating reports of api errors on checkout" in draft.message
    assert draft.auto_publish_at == view.declared_at + timedelta(minutes=4)
    assert kinds(kit, view.id)[:2] == ["declared", "commander"]
    assert {"channel", "paged", "status_drafted"} <= set(kinds(kit, view.id))
    assert kit.primary.attempts == []  # nothing published before the commander or the deadline


def test_draft_is_published_automatically_at_the_configured_point(kit: Kit) -> None:
    incident_id = declare(kit)
    kit.clock.advance(timedelta(minutes=3, seconds=59))
    kit.bot.incidents.run_due()
    assert kit.primary.published == []
    kit.clock.advance(timedelta(seconds=1))
    kit.bot.incidents.run_due()
    [update] = kit.primary.published
    assert update.status == "investigating" and update.components == ["api"]
    assert update.incident_key == kit.bot.incidents.view(incident_id).key
    assert "automatically" in timeline_text(kit, incident_id)
    kit.clock.advance(timedelta(minutes=1))
    kit.bot.incidents.run_due()  # the five-minute check finds it published
    assert "deadline_missed" not in kinds(kit, incident_id)
    assert len(kit.primary.published) == 1
    assert "Status update published (investigating)" in kit.chat.said()


def test_a_failing_status_page_is_retried_with_backoff_before_the_deadline(
    make_kit: Callable[..., Kit],
) -> None:
    kit = make_kit(fallback=False)
    incident_id = declare(kit)
    kit.primary.fail_next(2)
    kit.clock.advance(timedelta(minutes=4))
    kit.bot.incidents.run_due()
    assert kit.primary.published == [] and len(kit.primary.attempts) == 1
    kit.clock.advance(timedelta(seconds=4))
    kit.bot.incidents.run_due()  # not due yet: 5 s backoff
    assert len(kit.primary.attempts) == 1
    kit.clock.advance(timedelta(seconds=1))
    kit.bot.incidents.run_due()  # second failure: now 10 s
    kit.clock.advance(timedelta(seconds=10))
    kit.bot.incidents.run_due()
    assert len(kit.primary.published) == 1 and len(kit.primary.attempts) == 3
    text = timeline_text(kit, incident_id)
    assert "answered HTTP 500" in text and "Retrying in 5s" in text and "Retrying in 10s" in text
    view = kit.bot.incidents.view(incident_id)
    assert view.last_update_at is not None and view.last_update_at < view.status_deadline


def test_falls_back_to_the_next_provider_during_an_outage(kit: Kit) -> None:
    incident_id = declare(kit)
    kit.primary.fail_next(100)
    kit.clock.advance(timedelta(minutes=4))
    for _ in range(10):
        kit.bot.incidents.run_due()
        kit.clock.advance(timedelta(seconds=5))
    assert kit.primary.published == [] and len(kit.primary.attempts) == 3
    assert len(kit.fallback.published) == 1
    assert "Falling back to builtin" in timeline_text(kit, incident_id)
    with kit.bot.db.session() as s:
        [update] = store.updates_of(s, incident_id)
    assert update.provider_used == "builtin" and update.published_at is not None
    assert update.published_at <= kit.bot.incidents.view(incident_id).status_deadline


def test_missed_deadline_is_flagged_and_publishing_goes_on(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(fallback=False)
    incident_id = declare(kit)
    kit.primary.fail_next(1000)
    for _ in range(80):
        kit.clock.advance(timedelta(seconds=5))
        kit.bot.incidents.run_due()
    assert "deadline_missed" in kinds(kit, incident_id)
    assert "not published within 5m" in kit.chat.said()
    kit.primary.recover()  # the outage ends
    kit.clock.advance(timedelta(seconds=30))
    kit.bot.incidents.run_due()
    assert len(kit.primary.published) == 1


def test_commander_publishes_the_draft_and_nothing_runs_twice(kit: Kit) -> None:
    incident_id = declare(kit)
    with kit.bot.db.session() as s:
        [draft] = store.updates_of(s, incident_id)
    assert draft.id is not None
    kit.clock.advance(timedelta(minutes=1))
    kit.bot.incidents.publish_draft(draft.id, Actor(ONCALL, Via.SLACK))
    kit.clock.advance(timedelta(minutes=4))
    kit.bot.incidents.run_due()
    assert len(kit.primary.published) == 1
    with pytest.raises(RollbotError, match="already published"):
        kit.bot.incidents.publish_draft(draft.id, ALICE)
    with pytest.raises(RollbotError, match="already published"):
        kit.bot.incidents.edit_draft(draft.id, "new text", ALICE)


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_restart_mid_incident_still_publishes_and_two_replicas_publish_once(
    settings: Settings, clock: ManualClock
) -> None:
    page = FakeStatusPage()
    first = start(settings, clock, [page])
    incident_id = first.incidents.declare(Severity.SEV1, "Database down", ALICE).view.id
    first.db.dispose()  # the process dies one minute in
    clock.advance(timedelta(minutes=4))
    replicas = [start(settings, clock, [page]), start(settings, clock, [page])]
    try:
        run_together(*(bot.incidents.run_due for bot in replicas))
        assert len(page.published) == 1
        assert replicas[0].incidents.view(incident_id).last_update_at == clock.now()
    finally:
        for bot in replicas:
            bot.db.dispose()


def test_update_acknowledge_resolve_and_the_postmortem(kit: Kit) -> None:
    incident_id = declare(kit)
    channel = kit.bot.incidents.view(incident_id).channel_id
    kit.clock.advance(timedelta(minutes=2))
    kit.bot.incidents.change_status(channel, Status.IDENTIFIED, "Bad deploy of api 4.2", ALICE)
    kit.clock.advance(timedelta(minutes=10))
    kit.bot.incidents.change_status(channel, Status.MONITORING, "Rolled back to 4.1", ALICE)
    kit.clock.advance(timedelta(minutes=20))
    kit.bot.incidents.note(channel, "error rate at 0.05% | back to normal", ALICE)
    outcome = kit.bot.incidents.resolve_in(channel, "Bad deploy rolled back", ALICE)
    assert outcome.view.state == "resolved" and outcome.view.status == "resolved"
    actions = [e["event_action"] for e in kit.pager.events]
    assert actions == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in kit.pager.events} == {outcome.view.key}
    statuses = [u.status for u in kit.primary.published]
    assert statuses == ["identified", "monitoring", "resolved"]  # the draft was superseded
    [(upload_channel, filename, markdown)] = kit.chat.uploads
    assert upload_channel == channel and filename == f"postmortem-{outcome.view.key}.md"
    for section in (
        "## Summary",
        "## Impact",
        "## Detection",
        "## Response times",
        "## Timeline (UTC)",
        "## Root cause",
        "## Contributing factors",
        "## Action items",
        "## Lessons learned",
    ):
        assert section in markdown
    assert "| Acknowledged | 2m 0s |" in markdown
    assert "| First status update | 2m 0s |" in markdown
    assert "| Mitigated | 12m 0s |" in markdown
    assert "| Resolved | 32m 0s |" in markdown
    assert "error rate at 0.05% \\| back to normal" in markdown  # the pipe cannot break the table
    assert "Bad deploy rolled back" in markdown and "SEV2" in markdown
    with kit.bot.db.session() as s:
        pm = store.postmortem(s, incident_id)
    assert pm is not None and pm.markdown == markdown and pm.file_id
    assert pm.due_at == outcome.view.resolved_at + timedelta(hours=48)  # type: ignore[operator]


def test_postmortem_reminders_survive_a_restart_and_stop_when_done(
    kit: Kit, settings: Settings
) -> None:
    incident_id = declare(kit)
    channel = kit.bot.incidents.view(incident_id).channel_id
    kit.bot.incidents.resolve_in(channel, "", ALICE)
    again = start(settings, kit.clock, [kit.primary])
    try:
        chat = recorded(again)
        kit.clock.advance(timedelta(hours=24))
        again.incidents.run_due()
        assert "due in 1d" in chat.said()
        kit.clock.advance(timedelta(hours=20))
        again.incidents.run_due()
        assert "due in 4h" in chat.said()
        again.incidents.postmortem(channel, ALICE, done=True)
        kit.clock.advance(timedelta(hours=5))
        again.incidents.run_due()
        assert "overdue" not in chat.said()
        assert not again.incidents.view(incident_id).postmortem_overdue
    finally:
        again.db.dispose()


def test_overdue_postmortem_is_flagged(kit: Kit) -> None:
    incident_id = declare(kit)
    kit.bot.incidents.resolve(incident_id, "fixed", ALICE)
    kit.clock.advance(timedelta(hours=48))
    kit.bot.incidents.run_due()
    assert kit.bot.incidents.view(incident_id).postmortem_overdue
    assert "overdue" in kit.chat.said() and "postmortem" in kinds(kit, incident_id)


def test_commander_is_nudged_when_updates_stop(kit: Kit) -> None:
    incident_id = declare(kit)
    kit.clock.advance(timedelta(minutes=4))
    kit.bot.incidents.run_due()
    kit.clock.advance(timedelta(minutes=29))
    kit.bot.incidents.run_due()
    assert "No status update" not in kit.chat.said()
    kit.clock.advance(timedelta(minutes=1))
    kit.bot.incidents.run_due()
    assert any(u == ONCALL and "No status update for 30m" in t for u, t in kit.chat.directs)
    assert "nudge" in kinds(kit, incident_id)


def test_pinned_messages_land_on_the_timeline_once(kit: Kit) -> None:
    incident_id = declare(kit)
    channel = kit.bot.incidents.view(incident_id).channel_id
    assert channel is not None
    at = kit.clock.now() + timedelta(minutes=1)
    kit.chat.messages[(channel, "111.222")] = message(
        "api-7 is out of memory", "U0BOB", at, "https://x.slack.com/p111222"
    )
    assert kit.bot.incidents.pinned(channel, "111.222", ALICE)
    assert not kit.bot.incidents.pinned(channel, "111.222", ALICE)  # a second :pushpin:
    assert not kit.bot.incidents.pinned("C_ELSEWHERE", "111.222", ALICE)
    with kit.bot.db.session() as s:
        pinned = [e for e in store.timeline(s, incident_id) if e.kind is EventKind.PINNED]
    assert len(pinned) == 1
    assert mrkdwn(pinned[0].message) == "<@U0BOB>: api-7 is out of memory"
    assert pinned[0].at == at
    assert pinned[0].permalink == "https://x.slack.com/p111222"


def test_rollback_declares_once_and_collects_steps(kit: Kit) -> None:
    first = kit.bot.incidents.declare_for_rollback(7, "realtime-features", "error rate 2.1%")
    again = kit.bot.incidents.declare_for_rollback(7, "realtime-features", "still rolling back")
    assert first.id == again.id and first.rollout_id == 7 and first.severity == "sev2"
    assert kit.bot.incidents.rollback_step(7, "flag turned off")
    assert not kit.bot.incidents.rollback_step(8, "unrelated")
    assert kinds(kit, first.id).count("rollback") == 3
    assert first.commander == ONCALL  # the on-call engineer; rollbot cannot command


def test_commands_outside_an_incident_channel_change_nothing(kit: Kit) -> None:
    declare(kit)
    with pytest.raises(RollbotError, match="incident's own channel"):
        kit.bot.incidents.note("C_RANDOM", "hello", ALICE)
    with pytest.raises(RollbotError, match="incident's own channel"):
        kit.bot.incidents.resolve_in("C_RANDOM", "", ALICE)
    assert [v.state for v in kit.bot.incidents.incidents()] == ["active"]


def test_escalation_to_a_role_or_a_person(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit("roles:\n  ops_lead: {name: Operations Lead, members: [U0OPS1, U0OPS2]}\n")
    incident_id = declare(kit)
    channel = kit.bot.incidents.view(incident_id).channel_id
    outcome = kit.bot.incidents.escalate(channel, "ops_lead", ALICE)
    assert words(outcome.text).plain() == "Paged Operations Lead."
    assert (channel, ["U0OPS1", "U0OPS2"]) in kit.chat.invites
    assert {u for u, t in kit.chat.directs if "needs you in incident" in t} == {"U0OPS1", "U0OPS2"}
    outcome = kit.bot.incidents.escalate(channel, page_target("<@U0CAROL|carol>"), ALICE)
    assert "Paged <@U0CAROL>" in mrkdwn(words(outcome.text))
    assert (channel, ["U0CAROL"]) in kit.chat.invites
    with pytest.raises(RollbotError, match="neither a role, a contact nor a person"):
        kit.bot.incidents.escalate(channel, "nobody-here", ALICE)


def test_channel_names_taken_get_a_number(kit: Kit) -> None:
    kit.chat.taken.add("inc-20261102-api-errors-on-checkout")
    view = kit.bot.incidents.view(declare(kit))
    assert view.channel_name == "inc-20261102-api-errors-on-checkout-2"
    assert re.fullmatch(r"[a-z0-9_-]{1,80}", view.channel_name)


@pytest.fixture
def no_pager(rollbot: Rollbot) -> Iterator[RecordingChat]:
    yield recorded(rollbot)


def test_without_pager_the_declarer_commands_and_nothing_is_paged(
    rollbot: Rollbot, no_pager: RecordingChat
) -> None:
    view = rollbot.incidents.declare(Severity.SEV3, "Slow search", ALICE).view
    assert view.commander == ALICE.id
    assert "paged" not in [e.kind.value for e in _timeline(rollbot, view.id)]


def _timeline(bot: Rollbot, incident_id: int) -> list[Any]:
    with bot.db.session() as s:
        return store.timeline(s, incident_id)


def test_an_update_supersedes_the_unpublished_draft_and_its_dm(kit: Kit) -> None:
    incident_id = declare(kit)
    channel = kit.bot.incidents.view(incident_id).channel_id
    kit.bot.incidents.change_status(channel, Status.IDENTIFIED, "Bad deploy", ALICE)
    user, last = kit.chat.drafts[-1]
    assert user == ONCALL and last.state == "superseded"  # the DM loses its buttons
    kit.clock.advance(timedelta(minutes=5))
    kit.bot.incidents.run_due()
    assert [u.status for u in kit.primary.published] == ["identified"]
    with pytest.raises(RollbotError, match="superseded"):
        kit.bot.incidents.publish_draft(last.id, ONCALL_ACTOR)


ONCALL_ACTOR = Actor(ONCALL, Via.SLACK)


def test_two_replicas_taking_the_same_alert_open_one_incident(
    settings: Settings, clock: ManualClock
) -> None:
    from bot.domain.alerts import parse_alertmanager

    group = parse_alertmanager(
        {
            "status": "firing",
            "groupKey": '{}:{alertname="HighErrorRate"}',
            "commonLabels": {"alertname": "HighErrorRate", "severity": "critical"},
            "alerts": [{"labels": {"alertname": "HighErrorRate"}, "fingerprint": "f1"}],
        }
    )
    replicas = [start(settings, clock, [FakeStatusPage()]) for _ in range(2)]
    try:
        results = run_together(*(lambda bot=bot: bot.incidents.alert(group) for bot in replicas))
        assert sorted(r.action for r in results) == ["added", "declared"]
        assert len({r.incident_key for r in results}) == 1
        assert len(replicas[0].incidents.incidents()) == 1
    finally:
        for bot in replicas:
            bot.db.dispose()


def test_one_open_incident_per_source_and_a_new_one_after_resolution(kit: Kit) -> None:
    first = kit.bot.incidents.declare(
        Severity.SEV2, "Errors", ALICE, source="alertmanager", source_ref="g1"
    ).view
    with pytest.raises(Conflict, match="opened at the same moment"):
        kit.bot.incidents.declare(
            Severity.SEV2, "Errors", ALICE, source="alertmanager", source_ref="g1"
        )
    assert len(kit.bot.incidents.incidents()) == 1
    kit.bot.incidents.resolve(first.id, "", ALICE)
    second = kit.bot.incidents.declare(
        Severity.SEV2, "Errors again", ALICE, source="alertmanager", source_ref="g1"
    ).view
    assert second.id != first.id


def test_paging_that_fails_is_retried_with_backoff(kit: Kit) -> None:
    kit.pager.fail_times = 1
    incident_id = declare(kit)
    assert kit.pager.events == []
    assert "Could not page the on-call engineer: PagingError" in timeline_text(kit, incident_id)
    kit.clock.advance(timedelta(seconds=5))
    kit.bot.incidents.run_due()
    [trigger] = kit.pager.events
    assert trigger["event_action"] == "trigger"
    kit.clock.advance(timedelta(minutes=5))
    kit.bot.incidents.run_due()
    assert len(kit.pager.events) == 1  # done once


def test_a_broken_team_template_never_stops_an_incident(
    make_kit: Callable[..., Kit], tmp_path: Any
) -> None:
    broken = tmp_path / "broken.md.j2"
    broken.write_text("{{ no_such_variable.field }}", encoding="utf-8")
    kit = make_kit(f"incidents:\n  status_template: {broken}\n  postmortem_template: {broken}\n")
    incident_id = declare(kit)
    kit.clock.advance(timedelta(minutes=4))
    kit.bot.incidents.run_due()
    assert kit.primary.published[0].message == "API errors on checkout: investigating."
    kit.bot.incidents.resolve(incident_id, "fixed", ALICE)
    [(_, _, markdown)] = kit.chat.uploads
    assert "## Response times" in markdown  # rollbot's own template
    assert "post-mortem template failed" in timeline_text(kit, incident_id)


def test_acknowledged_while_the_pager_was_down_reaches_it_later(kit: Kit) -> None:
    kit.pager.fail_times = 1
    incident_id = declare(kit)
    kit.bot.incidents.acknowledge(incident_id, Actor(ONCALL, Via.SLACK))
    kit.clock.advance(timedelta(seconds=5))
    kit.bot.incidents.run_due()
    assert [e["event_action"] for e in kit.pager.events] == ["trigger", "acknowledge"]


class CrashingPage:
    name = "crashing"

    def publish(self, update: Any) -> str:
        raise RuntimeError("token=SECRET123 rejected")


def test_a_crashing_provider_falls_back_and_its_text_stays_out(
    make_kit: Callable[..., Kit],
) -> None:
    kit = make_kit("incidents:\n  attempts_per_provider: 1\n", first=CrashingPage())
    incident_id = declare(kit)
    kit.clock.advance(timedelta(minutes=4))
    kit.bot.incidents.run_due()
    assert len(kit.fallback.published) == 1
    text = timeline_text(kit, incident_id)
    assert "crashing failed (attempt 1): unexpected RuntimeError" in text
    assert "SECRET123" not in text


def test_new_incidents_are_announced_where_declared_and_in_the_announce_channel(
    make_kit: Callable[..., Kit],
) -> None:
    kit = make_kit("incidents:\n  announce_channel: C0ANNOUNCE\n")
    view = kit.bot.incidents.declare(
        Severity.SEV1, "DB down", ALICE, origin_channel="C0RELEASES"
    ).view
    announced = [c for c, t in kit.chat.posts if "incident declared" in t]
    assert announced == ["C0RELEASES", "C0ANNOUNCE"]
    assert f"<#{view.channel_id}>" in kit.chat.posts[-1][1]
    kit.bot.incidents.declare(Severity.SEV3, "Slow", ALICE, origin_channel="D0ALICE")
    assert [c for c, t in kit.chat.posts if "incident declared" in t][2:] == ["C0ANNOUNCE"]


def test_escalation_to_a_role_held_by_a_user_group(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit("roles:\n  sre: {name: SRE on call, usergroup: S0SRE}\n")
    incident_id = declare(kit)
    channel = kit.bot.incidents.view(incident_id).channel_id
    assert words(kit.bot.incidents.escalate(channel, "sre", ALICE).text).plain() == (
        "Paged SRE on call."
    )
    assert all(users for _, users in kit.chat.invites)  # nobody to invite by id
    assert (channel, ":rotating_light: <!subteam^S0SRE> SRE on call is needed here.") in (
        kit.chat.posts
    )
