"""The sign-off chain against a real database (SQLite file and PostgreSQL): gates hold
advances, the five-role chain, the rules a signer cannot get around, rejections, reminders,
escalation and timeouts that survive a restart, checklists and the report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.commands.approve import run_approve
from bot.commands.rollout import run_rollout
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.domain.actions import Action
from bot.domain.actor import SCHEDULER, Actor, Via
from bot.domain.errors import Conflict, InvalidTransition, RollbotError
from bot.domain.message import Message
from bot.domain.roles import Forbidden
from bot.services.chat import ChatPorts
from bot.services.events import Said
from bot.services.rollouts.notifier import CardLocation
from bot.services.rollouts.views import RolloutView
from bot.services.signoff.feature import Signoffs
from bot.services.signoff.ports import Ask, CheckButton, MessageRef, SignButton
from bot.slack.mrkdwn import mrkdwn
from bot.store import audit
from bot.wording import waiting_line, words
from bot.wording.signoff import ask_note
from tests.conftest import slack_text

FLAG = "realtime-features"


def card_notes(view: RolloutView) -> str:
    """The card's notes as Slack shows them."""
    return "\n".join(n if isinstance(n, str) else mrkdwn(words(n)) for n in view.notes)


ROLES = """
roles:
  eng_lead: {name: Engineering Lead, members: [UENG, UENG2, UENG3]}
  product_manager: {name: Product Manager, members: [UPM]}
  security_lead: {name: Security Lead, members: [USEC]}
  ops_lead: {name: Operations Lead, members: [UOPS], backups: [UOPSBACKUP]}
  cto: {name: CTO, members: [UCTO, UENG]}
signoff:
  enforce_gates: true
  remind_after: 4h
  remind_every: 1d
  escalate_after: 2d
"""
CHAIN = [
    ("eng_lead", "UENG"),
    ("product_manager", "UPM"),
    ("security_lead", "USEC"),
    ("ops_lead", "UOPS"),
    ("cto", "UCTO"),
]
ALICE = Actor("UALICE", Via.SLACK)


class Recorder:
    """A SignoffNotifier (and the rollout thread's notifier) that remembers every message."""

    def __init__(self) -> None:
        self.asks: list[tuple[str, Ask]] = []
        self.closed: list[tuple[MessageRef, Message]] = []
        self.told: list[tuple[str, Message]] = []
        self.posted: list[str] = []
        self.fail = False
        self.fail_tell = False  # direct messages fail (the chat is down)

    def ask(self, user_id: str, ask: Ask) -> MessageRef | None:
        if self.fail:
            raise RuntimeError("chat is down")
        self.asks.append((user_id, ask))
        return {"channel": f"D{user_id}", "ts": str(len(self.asks))}

    def close(self, ref: MessageRef, text: Said) -> None:
        self.closed.append((ref, words(text)))

    def tell(self, user_id: str, text: Said) -> None:
        if self.fail_tell:
            raise RuntimeError("chat is down")
        self.told.append((user_id, words(text)))

    # The rollout's thread (escalations to the channel go there, through its outbox).
    def show_card(self, view: RolloutView) -> CardLocation | None:
        return None

    def post_event(self, view: RolloutView, message: Said) -> None:
        self.posted.append(mrkdwn(words(message)))


def slack(user: str) -> Actor:
    return Actor(user, Via.SLACK)


@pytest.fixture
def make_bot(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> Iterator[Callable[[str], tuple[Rollbot, Recorder]]]:
    bots: list[Rollbot] = []

    def make(extra: str = "") -> tuple[Rollbot, Recorder]:
        recorder = Recorder()
        chat = replace(ChatPorts.none(), signoffs=recorder, rollouts=recorder)
        bot = build(settings_factory(database_url, ROLES + extra), clock, chat)
        bots.append(bot)
        return bot, recorder

    yield make
    for bot in bots:
        bot.db.dispose()


@pytest.fixture
def gated(make_bot: Callable[[str], tuple[Rollbot, Recorder]]) -> tuple[Rollbot, Recorder]:
    return make_bot("")


def so(bot: Rollbot) -> Signoffs:
    assert bot.signoffs is not None
    return bot.signoffs


def button(bot: Rollbot, role: str) -> SignButton:
    """The Approve button for `role` on the card as it is now."""
    view = bot.rollouts.status(FLAG)
    for b in view.buttons:
        parsed = SignButton.loads(b.value)
        if b.action is Action.APPROVE and parsed and parsed.role == role:
            return parsed
    raise AssertionError(f"no Approve button for {role}: {[b.label for b in view.buttons]}")


def check_all(bot: Rollbot, checklists: tuple[str, ...]) -> None:
    owners = {"eng_lead": "UENG", "product_manager": "UPM", "security_lead": "USEC"}
    owners |= {"ops_lead": "UOPS", "cto": "UCTO"}
    view, states = so(bot).checklists.items(FLAG)
    for state in states:
        if state.checklist.id in checklists and not state.done:
            so(bot).checklists.check(
                CheckButton(view.id, state.checklist.id, state.index),
                slack(owners[state.item.owner]),
            )


def events(bot: Rollbot, action: str) -> list[Any]:
    with bot.db.session() as s:
        return audit.events(s, subject_id=FLAG, action=action)


def test_the_five_role_chain_asks_in_order_and_then_lets_the_rollout_leave_staging(
    gated: tuple[Rollbot, Recorder],
) -> None:
    bot, rec = gated
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    assert [(u, a.role_name) for u, a in rec.asks] == [
        ("UENG", "Engineering Lead"),
        ("UENG2", "Engineering Lead"),
        ("UENG3", "Engineering Lead"),
    ]
    with pytest.raises(InvalidTransition) as held:
        bot.rollouts.advance(FLAG, ALICE)
    assert "Engineering Lead" in held.value.message and "Code Readiness" in held.value.message

    for role, user in CHAIN:
        result = so(bot).service.approve(button(bot, role), slack(user))
        assert result.changed, result.text
    asked = [a.role_name for _, a in rec.asks]
    assert asked == [
        *["Engineering Lead"] * 3,
        "Product Manager",
        "Security Lead",
        "Operations Lead",
        "CTO",
    ]
    # The signer's DM (and the other Engineering Lead's) were closed when the role signed.
    assert any("Signed by" in text for _, text in rec.closed)
    with pytest.raises(InvalidTransition) as held:
        bot.rollouts.advance(FLAG, ALICE)
    assert "sign-off" not in held.value.message and "Infrastructure Readiness" in held.value.message

    check_all(bot, ("code-readiness", "infrastructure-readiness"))
    # Signed and checked: the shipped plan's staff step, then 5% of everyone
    staff = bot.rollouts.advance(FLAG, ALICE).view
    assert (staff.step_name, staff.percentage) == ("Staff at 100% (internal segment)", 0)
    flag = bot.flags.get(FLAG)
    assert flag is not None and flag.enabled and flag.segment_rollouts == {"internal": 100}
    assert bot.rollouts.advance(FLAG, ALICE, expected_step=1).view.percentage == 5
    approvals = events(bot, "signoff.approved")
    assert [(e.actor, e.after["role"]) for e in approvals] == [(u, r) for r, u in CHAIN]
    assert len(events(bot, "checklist.checked")) == 10

    reply = run_approve(FLAG, slack("UOTHER"), so(bot))
    assert "| Engineering Lead | <@UENG> | approved via slack |" in slack_text(reply)
    assert "| CTO (CTO sign-off before Full Production) | ________ |" in reply.text


def test_rules_a_signer_cannot_get_around(gated: tuple[Rollbot, Recorder]) -> None:
    bot, _rec = gated
    bot.rollouts.start(FLAG, None, Actor("UENG", Via.SLACK), "C1")
    svc = so(bot).service
    eng = button(bot, "eng_lead")

    with pytest.raises(Forbidden) as refused:
        svc.approve(eng, slack("UOTHER"))  # not a member
    assert "Only someone holding the role Engineering Lead" in refused.value.message
    assert "<@UENG>, <@UENG2>, <@UENG3>" in mrkdwn(refused.value.hint)

    with pytest.raises(Forbidden) as refused:
        svc.approve(eng, slack("UENG"))  # started the rollout
    assert "You started this rollout" in refused.value.message

    wrong_turn = SignButton(eng.rollout, eng.step, eng.visit, "product_manager")
    with pytest.raises(InvalidTransition) as early:
        svc.approve(wrong_turn, slack("UPM"))
    assert "waiting for Engineering Lead first" in early.value.message

    assert "Nothing is waiting" in run_approve("", slack("UPM"), so(bot)).text
    assert svc.approve(eng, slack("UENG2")).changed
    waiting = run_approve("", slack("UPM"), so(bot))
    assert "`realtime-features` as *Product Manager*" in waiting.text
    assert [v.flag_key for v in waiting.views] == [FLAG]
    again = svc.approve(eng, slack("UENG2"))  # a double click
    assert not again.changed and "already signed" in words(again.text)
    with pytest.raises(Conflict) as taken:
        svc.approve(eng, slack("UENG3"))  # the role is signed already
    assert "already signed this gate (<@UENG2>)" in mrkdwn(taken.value.message)
    assert len(events(bot, "signoff.approved")) == 1


@pytest.mark.parametrize("allowed", [False, True])
def test_one_person_one_role_unless_allowed(
    make_bot: Callable[[str], tuple[Rollbot, Recorder]], allowed: bool
) -> None:
    bot, _ = make_bot("  allow_multiple_roles: true\n" if allowed else "")
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    svc = so(bot).service
    for role, user in CHAIN[:4]:
        svc.approve(button(bot, role), slack(user))
    cto = button(bot, "cto")
    if allowed:
        assert svc.approve(cto, slack("UENG")).changed
    else:
        with pytest.raises(Forbidden) as refused:
            svc.approve(cto, slack("UENG"))
        assert "already signed this gate as Engineering Lead" in refused.value.message


def test_stale_buttons_after_the_gate_passed_and_after_a_new_visit(
    gated: tuple[Rollbot, Recorder], clock: ManualClock
) -> None:
    bot, _ = gated
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    svc = so(bot).service
    old = button(bot, "eng_lead")
    for role, user in CHAIN:
        svc.approve(button(bot, role), slack(user))
    check_all(bot, ("code-readiness", "infrastructure-readiness"))
    bot.rollouts.advance(FLAG, ALICE)
    with pytest.raises(Conflict) as stale:
        svc.approve(old, slack("UENG2"))
    assert "out of date" in stale.value.message and "left that step" in stale.value.message

    # A visit of the same step that started later (as after a rollback to it) restarts.
    moved = SignButton(old.rollout, 1, old.visit, "eng_lead")
    with pytest.raises(Conflict) as stale:
        svc.approve(moved, slack("UENG2"))
    assert "has no open gate" in stale.value.message
    assert len(events(bot, "signoff.approved")) == 5


def test_rejection_pauses_tells_the_requester_and_the_role_can_approve_after_resume(
    gated: tuple[Rollbot, Recorder],
) -> None:
    bot, rec = gated
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    svc = so(bot).service
    with pytest.raises(RollbotError):
        svc.reject(button(bot, "eng_lead"), slack("UENG"), "   ")
    eng = button(bot, "eng_lead")
    result = svc.reject(eng, slack("UENG"), "Load tests are still red")
    assert result.changed
    view = bot.rollouts.status(FLAG)
    assert view.state.value == "paused"
    assert "Rejected by <@UENG>" in card_notes(view)
    ((user, text),) = rec.told
    assert user == "UALICE" and "Load tests are still red" in text
    (event,) = events(bot, "signoff.rejected")
    assert event.detail == "Load tests are still red" and event.actor == "UENG"

    bot.rollouts.resume(FLAG, ALICE)
    assert svc.approve(button(bot, "eng_lead"), slack("UENG")).changed
    assert "Rejected" not in card_notes(bot.rollouts.status(FLAG))


def test_reminders_escalation_and_timeout_survive_a_restart_once(
    make_bot: Callable[[str], tuple[Rollbot, Recorder]], clock: ManualClock
) -> None:
    bot, rec = make_bot("")
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    for role, user in CHAIN[:3]:
        so(bot).service.approve(button(bot, role), slack(user))
    assert rec.asks[-1][0] == "UOPS"
    asks = len(rec.asks)

    clock.advance(timedelta(hours=3))
    so(bot).requests.tick()
    assert len(rec.asks) == asks  # not yet

    # A restart: a new process on the same database, same clock.
    bot.db.dispose()
    bot2, rec2 = make_bot("")
    clock.advance(timedelta(hours=2))
    so(bot2).requests.tick()
    so(bot2).requests.tick()  # a second tick (or replica) sends nothing more
    assert [(u, a.stage) for u, a in rec2.asks] == [("UOPS", "reminder")]
    assert "Reminder 1" in ask_note(rec2.asks[0][1])

    clock.advance(timedelta(days=2))  # escalation is due (2d after the ask)
    so(bot2).requests.tick()
    assert [(u, a.stage) for u, a in rec2.asks[1:]] == [("UOPSBACKUP", "escalation")]
    # The backup may sign for the role it was escalated to.
    assert so(bot2).service.approve(button(bot2, "ops_lead"), slack("UOPSBACKUP")).changed

    clock.advance(timedelta(days=3))  # past the gate's 5d timeout
    so(bot2).requests.tick()
    view = bot2.rollouts.status(FLAG)
    assert view.state.value == "paused" and view.step_number == 1
    assert any("timed out" in text for _, text in rec2.told)
    so(bot2).requests.tick()
    assert len(events(bot2, "signoff.timed_out")) == 1
    assert len(events(bot2, "signoff.reminder_sent")) == 1


def test_a_failed_send_is_retried_not_lost(
    gated: tuple[Rollbot, Recorder], clock: ManualClock
) -> None:
    bot, rec = gated
    rec.fail = True
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    assert rec.asks == []
    rec.fail = False
    clock.advance(timedelta(minutes=2))
    so(bot).requests.tick()
    assert [u for u, _ in rec.asks] == ["UENG", "UENG2", "UENG3"]


def test_automatic_advance_waits_at_the_cto_gate(
    gated: tuple[Rollbot, Recorder], clock: ManualClock
) -> None:
    bot, _ = gated
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    for role, user in CHAIN:
        so(bot).service.approve(button(bot, role), slack(user))
    check_all(bot, ("code-readiness", "infrastructure-readiness"))
    bot.rollouts.advance(FLAG, ALICE)
    for _ in range(5):  # staff -> 5% -> 25% -> 50% -> 75% -> 100% by bake times
        clock.advance(timedelta(days=5))
        bot.rollouts.advance_due()
    view = bot.rollouts.status(FLAG)
    assert view.step_name.startswith("Day 5-7") and view.percentage == 100
    clock.advance(timedelta(days=5))
    assert bot.rollouts.advance_due() == []
    assert "CTO" in waiting_line(view)
    so(bot).service.approve(button(bot, "cto"), slack("UCTO"))
    check_all(bot, ("internal-communication", "external-communication"))
    assert len(bot.rollouts.advance_due()) == 1
    assert bot.rollouts.status(FLAG).state.value == "completed"

    report = run_rollout(f"report {FLAG}", ALICE, bot.rollouts, extra=bot.rollout_subcommands)
    text = slack_text(report)
    assert "## Pre-Migration Checklist" in text and "### Code Readiness" in text
    assert "- [x] Security audit passed — Security Lead, checked by <@USEC>" in text
    assert "- [ ] Performance analysis report — Engineering Lead, due 2026-" in text
    assert "| Role | Name | Signature | Date |" in text
    assert "| CTO (CTO sign-off before Full Production) | <@UCTO> | approved via slack |" in text


def test_scheduler_actor_is_never_a_signer(gated: tuple[Rollbot, Recorder]) -> None:
    bot, _ = gated
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    with pytest.raises(Forbidden):
        so(bot).service.approve(button(bot, "eng_lead"), SCHEDULER)


def test_setting_the_percentage_past_a_held_step_is_refused(
    gated: tuple[Rollbot, Recorder],
) -> None:
    bot, _ = gated
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    with pytest.raises(InvalidTransition) as held:
        bot.rollouts.set_percentage(FLAG, 5, ALICE)
    assert "cannot go above 0% yet" in held.value.message
    assert "Engineering Lead" in held.value.message
    assert bot.rollouts.status(FLAG).percentage == 0


def test_after_a_rollback_old_buttons_are_stale_and_the_chain_starts_again(
    gated: tuple[Rollbot, Recorder], clock: ManualClock
) -> None:
    bot, rec = gated
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    so(bot).service.approve(button(bot, "eng_lead"), slack("UENG"))
    old_pm = button(bot, "product_manager")
    # The rollback feature moves the rollout to rolled_back; do what it does to the row.
    from bot.store import rollouts as store

    with bot.db.session() as s:
        row = store.active_for_flag(s, FLAG, for_update=True)
        assert row is not None
        row.state, row.active_flag_key, row.finished_at = "rolled_back", None, clock.now()
        s.add(row)
    so(bot).requests.tick()
    assert any("rolled back" in text for _, text in rec.closed)  # the PM's DM went stale
    with pytest.raises(Conflict) as stale:
        so(bot).service.approve(old_pm, slack("UPM"))
    assert "was rolled back" in stale.value.message

    asks = len(rec.asks)
    clock.advance(timedelta(minutes=5))
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    assert [a.role_name for _, a in rec.asks[asks:]] == ["Engineering Lead"] * 3
    reply = run_approve(FLAG, slack("UOTHER"), so(bot))
    assert "| Engineering Lead | ________ |" in reply.text  # signatures do not carry over
    assert so(bot).service.approve(button(bot, "eng_lead"), slack("UENG")).changed


def test_escalation_without_backups_goes_to_the_channel(
    make_bot: Callable[[str], tuple[Rollbot, Recorder]], clock: ManualClock
) -> None:
    bot, rec = make_bot("")
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    rec.posted.clear()  # the rollout's own "started" event
    clock.advance(timedelta(days=2, minutes=1))
    so(bot).requests.tick()
    (posted,) = rec.posted
    assert "waiting for Engineering Lead" in posted and "/approve realtime-features" in posted
    assert [a.stage for _, a in rec.asks] == ["ask"] * 3  # no backups: nobody else DMed


def test_the_cards_reject_button_serves_any_signer_still_to_sign(
    gated: tuple[Rollbot, Recorder],
) -> None:
    bot, rec = gated
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    view = bot.rollouts.status(FLAG)
    (reject,) = [b for b in view.buttons if b.action is Action.REJECT]
    assert reject.label == "Reject"
    any_role = SignButton.loads(reject.value)
    assert any_role is not None and any_role.role == "*"
    with pytest.raises(Forbidden) as refused:
        so(bot).service.may_reject(any_role, slack("UOTHER"))
    assert "Only someone still to sign" in refused.value.message
    assert "Security Lead: <@USEC>" in mrkdwn(refused.value.hint)

    # The Security Lead sees a problem before it is his turn: he may reject now.
    assert "as Security Lead" in words(so(bot).service.may_reject(any_role, slack("USEC"))).plain()
    result = so(bot).service.reject(any_role, slack("USEC"), "Pen test findings open")
    assert result.changed
    (event,) = events(bot, "signoff.rejected")
    assert event.after["role"] == "security_lead" and event.actor == "USEC"
    assert bot.rollouts.status(FLAG).state.value == "paused"
    ((told, text),) = rec.told
    assert told == "UALICE" and "Pen test findings open" in text


def test_the_card_holds_on_the_gates_own_items_only(gated: tuple[Rollbot, Recorder]) -> None:
    """The launch gate needs Code and Infrastructure Readiness (10 items); the plan's other
    checklists (communication, post-migration) do not hold it."""
    bot, _ = gated
    waiting = waiting_line(bot.rollouts.start(FLAG, None, ALICE, "C1").view)
    assert "10 checklist item(s) of this gate open" in waiting
    check_all(bot, ("code-readiness",))
    waiting = waiting_line(bot.rollouts.status(FLAG))
    assert "5 checklist item(s) of this gate open" in waiting
    check_all(bot, ("infrastructure-readiness",))
    waiting = waiting_line(bot.rollouts.status(FLAG))
    assert "checklist item" not in waiting and "open:" not in waiting
    assert "sign-off" in waiting  # the chain still holds it
