"""Emergency contacts (the plan's Appendix C): `contacts:` in config, `/oncall`, contacts on
incident cards, and `/incident page <contact or person>` paging through PagerDuty."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.commands.incident import IncidentReply, run_incident
from bot.commands.oncall import run_oncall
from bot.config.settings import ConfigError, Settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.domain.errors import RollbotError
from bot.domain.incident import Severity
from bot.services.chat import ChatPorts
from bot.services.incidents.ports import OnCall
from bot.services.incidents.views import IncidentView
from bot.slack.incident_blocks import incident_card
from tests.conftest import slack_text
from tests.fakes.incidents import FakePager, FakeStatusPage, RecordingChat

ALICE = Actor("U0ALICE", Via.SLACK)

CONTACTS = """\
roles:
  platform_lead:
    name: Platform Lead
    members: [U0PLATFORM]
contacts:
  - name: on-call-engineer
    title: On-call Engineer
    pagerduty_schedule: PSCHED1
    phone: "+1-555-0100"
  - name: platform-lead
    title: Platform Lead
    role: platform_lead
    slack_user: U0PLATFORM
    phone: "+1-555-0101"
  - name: security
    title: Security Team
    pagerduty_escalation_policy: PSECPOL
    slack_group: S0SECURITY
    email: security@example.com
  - name: noc
    title: NOC
    email: noc@example.com
"""


def kit(
    settings_factory: Callable[..., Settings],
    tmp_path: Path,
    clock: ManualClock,
    extra: str = "",
    pager: FakePager | None = None,
) -> tuple[Rollbot, RecordingChat]:
    chat = RecordingChat(users={"olga@example.com": "U0OLGA", "platform@example.com": "U0PLATFORM"})
    settings = settings_factory(f"sqlite:///{tmp_path}/contacts.db", CONTACTS + extra)
    bot = build(
        settings,
        clock,
        replace(ChatPorts.none(), incidents=chat),
        pager=pager,
        status_pages=[FakeStatusPage("builtin")],
    )
    return bot, chat


@pytest.fixture
def paged(
    settings_factory: Callable[..., Settings], tmp_path: Path, clock: ManualClock, pager: FakePager
) -> Iterator[tuple[Rollbot, RecordingChat]]:
    """rollbot with the contacts and the fake PagerDuty, and the chat it talks to."""
    bot, chat = kit(settings_factory, tmp_path, clock, pager=pager)
    try:
        yield bot, chat
    finally:
        bot.db.dispose()


def declared(
    bot: Rollbot, severity: Severity = Severity.SEV2, title: str = "Checkout errors"
) -> tuple[IncidentView, Callable[[str], IncidentReply]]:
    """An incident Alice declares, and `/incident <text>` typed by her in its channel."""
    view = bot.incidents.declare(severity, title, ALICE).view
    return view, lambda text: run_incident(text, ALICE, bot.incidents, view.channel_id)


@pytest.fixture
def pager() -> FakePager:
    fake = FakePager(OnCall("Olga On-Call", "olga@example.com", "POLGA"))
    fake.rotas["PSCHED1"] = OnCall("Olga On-Call", "olga@example.com", "POLGA")
    fake.users["platform@example.com"] = "PPLATFORM"
    return fake


def test_oncall_shows_who_is_on_call_and_every_way_to_reach_each_contact(
    paged: tuple[Rollbot, RecordingChat],
) -> None:
    bot, _ = paged
    said = slack_text(run_oncall("", bot.incidents))
    lines = said.splitlines()
    engineer = next(line for line in lines if "On-call Engineer" in line)
    assert "on call now: <@U0OLGA> (olga@example.com)" in engineer
    assert "+1-555-0100" in engineer
    lead = next(line for line in lines if "Platform Lead" in line)
    assert "<@U0PLATFORM>" in lead and "+1-555-0101" in lead
    security = next(line for line in lines if "Security Team" in line)
    assert "<!subteam^S0SECURITY>" in security and "security@example.com" in security
    assert "nobody is on call in PagerDuty" in security  # no rota entry for PSECPOL
    assert "noc@example.com" in next(line for line in lines if "NOC" in line)
    assert "`/incident page &lt;contact&gt;`" in said  # escaped, as Slack needs


def test_oncall_says_when_pagerduty_cannot_be_asked(
    settings_factory: Callable[..., Settings], tmp_path: Path, clock: ManualClock
) -> None:
    failing = FakePager(fail_times=5)
    bot, _ = kit(settings_factory, tmp_path, clock, pager=failing)
    said = slack_text(run_oncall("", bot.incidents))
    engineer = next(line for line in said.splitlines() if "On-call Engineer" in line)
    assert "who is on call is unknown" in engineer and "HTTP 503" in engineer
    # Without PagerDuty at all, the schedule's contact says so instead of failing.
    (tmp_path / "no-pager").mkdir()
    bot2, _ = kit(settings_factory, tmp_path / "no-pager", clock)
    said2 = slack_text(run_oncall("", bot2.incidents))
    assert "PagerDuty is not configured" in said2


def test_oncall_takes_no_arguments_and_explains_itself(
    settings_factory: Callable[..., Settings], tmp_path: Path, clock: ManualClock
) -> None:
    bot, _ = kit(settings_factory, tmp_path, clock)
    with pytest.raises(RollbotError, match="takes no arguments"):
        run_oncall("everyone", bot.incidents)
    assert "Who is on call now" in run_oncall("help", bot.incidents).text


def test_paging_a_contact_with_a_schedule_opens_an_incident_assigned_to_who_is_on_call(
    paged: tuple[Rollbot, RecordingChat],
    pager: FakePager,
) -> None:
    bot, _ = paged
    view, say = declared(bot)
    reply = say("page on-call-engineer")
    assert not reply.error
    key, title, target = pager.opened[-1]
    assert target == "POLGA" and title == "[SEV2] Checkout errors"
    assert key.startswith(f"rollbot-{view.key}")
    assert "Paged On-call Engineer through PagerDuty (incident `Q0001`)" in slack_text(reply)
    timeline = say("timeline").timeline
    assert any("paged On-call Engineer through PagerDuty" in e.message for e in timeline)


def test_paging_a_contact_with_an_escalation_policy_pages_the_policy_and_mentions_the_group(
    paged: tuple[Rollbot, RecordingChat],
    pager: FakePager,
) -> None:
    bot, chat = paged
    _, say = declared(bot, Severity.SEV1, "Data exposure")
    say("page security")
    assert pager.opened[-1][2] == "PSECPOL"
    assert any("<!subteam^S0SECURITY>" in text for _, text in chat.posts)


def test_paging_a_person_finds_them_in_pagerduty_by_their_email(
    paged: tuple[Rollbot, RecordingChat],
    pager: FakePager,
) -> None:
    bot, chat = paged
    view, say = declared(bot)
    reply = say("page <@U0PLATFORM|pat>")
    assert pager.opened[-1][2] == "PPLATFORM"
    assert "through PagerDuty" in slack_text(reply)
    assert (view.channel_id, ["U0PLATFORM"]) in chat.invites
    assert any(user == "U0PLATFORM" for user, _ in chat.directs)
    # Someone PagerDuty does not know is still brought in, and the reply says why not paged.
    reply = say("page @U0STRANGER")
    assert "not through PagerDuty: their email is not visible to rollbot" in slack_text(reply)
    assert any(user == "U0STRANGER" for user, _ in chat.directs)
    reply = say("page @U0OLGA")
    assert "not through PagerDuty: no PagerDuty user has their email" in slack_text(reply)


def test_a_failing_pagerduty_still_brings_the_person_in_and_says_why(
    paged: tuple[Rollbot, RecordingChat],
    pager: FakePager,
) -> None:
    bot, chat = paged
    _, say = declared(bot)
    pager.fail_times = 3
    reply = say("page platform-lead")
    assert not reply.error
    assert "not through PagerDuty: PagerDuty: opening an incident failed: HTTP 503" in slack_text(
        reply
    )
    assert any(user == "U0PLATFORM" for user, _ in chat.directs)


def test_an_unknown_target_lists_roles_and_contacts(
    settings_factory: Callable[..., Settings], tmp_path: Path, clock: ManualClock
) -> None:
    bot, _ = kit(settings_factory, tmp_path, clock)
    _, say = declared(bot, Severity.SEV3, "Slow pages")
    reply = say("page nobody-here")
    said = slack_text(reply)
    assert reply.error
    assert "neither a role, a contact nor a person" in said
    assert "`platform-lead`" in said and "`platform_lead`" in said


def test_contact_details_stay_out_of_public_incident_channels(
    settings_factory: Callable[..., Settings], tmp_path: Path, clock: ManualClock
) -> None:
    bot, chat = kit(settings_factory, tmp_path, clock)
    view, _ = declared(bot)
    card = str(incident_card(view))
    assert "On-call Engineer" in card and "Platform Lead" in card and "<@U0PLATFORM>" in card
    assert "+1-555-0100" not in card and "security@example.com" not in card
    assert all("+1-555" not in text for _, text in chat.posts)

    (tmp_path / "private").mkdir()
    private, _ = kit(
        settings_factory,
        tmp_path / "private",
        clock,
        "incidents:\n  private_channels: true\n",
    )
    view = private.incidents.declare(Severity.SEV2, "Checkout errors", ALICE).view
    card = str(incident_card(view))
    assert "+1-555-0100" in card and "security@example.com" in card

    (tmp_path / "public").mkdir()
    shown, _ = kit(
        settings_factory,
        tmp_path / "public",
        clock,
        "incidents:\n  contact_details_in_public_channels: true\n",
    )
    card = str(incident_card(shown.incidents.declare(Severity.SEV2, "X", ALICE).view))
    assert "noc@example.com" in card


@pytest.mark.parametrize(
    ("contacts", "says"),
    [
        (
            "contacts:\n  - {name: lead, title: Lead, role: nobody}\n",
            "contacts[0].role: unknown role 'nobody'",
        ),
        (
            "contacts:\n  - {name: noc, title: NOC, email: a@b.c}\n"
            "  - {name: noc, title: NOC 2, email: d@e.f}\n",
            "two contacts are called 'noc'",
        ),
        ("contacts:\n  - {name: ghost, title: Ghost}\n", "has no way to reach it"),
        (
            "contacts:\n  - {name: x, title: X, pagerduty_user: PU1234, "
            "pagerduty_schedule: PS1234}\n",
            "at most one of pagerduty_user",
        ),
        ("contacts:\n  - {name: x, title: X, phone: call me}\n", "contacts.0.phone"),
    ],
)
def test_bad_contacts_are_config_problems_with_the_key(
    settings_factory: Callable[..., Settings], tmp_path: Path, contacts: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_factory(f"sqlite:///{tmp_path}/bad.db", contacts)
    assert says in str(caught.value)


def test_the_post_mortem_names_people_instead_of_their_ids(
    paged: tuple[Rollbot, RecordingChat],
) -> None:
    bot, chat = paged
    chat.names.update({"U0ALICE": "Alice Adams", "U0OLGA": "Olga On-Call"})
    view, _ = declared(bot)
    bot.incidents.note(view.channel_id, "asked the NOC", ALICE)
    bot.incidents.escalate(view.channel_id, "U0STRANGER", ALICE)
    bot.incidents.resolve_in(view.channel_id, "fixed", ALICE)
    [(_, _, markdown)] = chat.uploads
    assert "| Commander | Olga On-Call |" in markdown
    assert "by Alice Adams" in markdown
    assert "| Alice Adams |" in markdown  # the actor column of the timeline
    assert "Alice Adams paged @U0STRANGER" in markdown  # unknown to the chat: the id stays
    assert "<@U0" not in markdown and "@U0ALICE" not in markdown
