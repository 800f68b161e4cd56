"""Post-migration follow-through with the shipped plan: Phase 4's tasks and the
post-migration checklists have owners and due dates counted from full production; owners are
reminded before the due date and told once it passed (once across replicas); overdue tasks
are listed in `/rollout status`; "Remove feature flags" is done only when the flag is gone;
`/rollout retro` drafts the retrospective from the rollout's timeline, with names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from bot.clock import ManualClock
from bot.commands.rollout import run_rollout
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.domain.errors import Conflict
from bot.domain.rollout import RolloutState
from bot.services.chat import ChatPorts
from bot.services.signoff.ports import CheckButton
from bot.web.app import create_app
from tests.conftest import API_TOKEN, NO_GATES, SHIPPED_ROLES, slack_text
from tests.fakes.incidents import RecordingChat
from tests.integration.test_signoff_service import Recorder, card_notes

FLAG = "realtime-features"
ALICE = Actor("UALICE", Via.SLACK)
ROLES = "\n" + SHIPPED_ROLES


def ports(recorder: Recorder, chat: RecordingChat | None = None) -> ChatPorts:
    return replace(ChatPorts.none(), signoffs=recorder, incidents=chat or RecordingChat())


def complete(bot: Rollbot, clock: ManualClock) -> None:
    """Start the shipped plan and advance it to full production."""
    bot.rollouts.start(FLAG, None, ALICE)
    for _ in range(20):
        clock.advance(timedelta(minutes=1))  # past the advance guard
        outcome = bot.rollouts.advance(FLAG, ALICE)
        if outcome.view.state is RolloutState.COMPLETED:
            return
    raise AssertionError("the shipped plan did not complete")


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], database_url: str) -> Settings:
    return settings_factory(database_url, ROLES + NO_GATES)


def status_card(bot: Rollbot) -> str:
    """The notes of the card `/rollout status <flag>` shows, as Slack writes them."""
    [view] = run_rollout(f"status {FLAG}", ALICE, bot.rollouts).views
    return card_notes(view)


def reminders(recorder: Recorder, task: str) -> list[tuple[str, str]]:
    return [(u, t) for u, t in recorder.told if task in t]


def test_owners_are_reminded_before_the_due_date_and_once_when_overdue(
    settings: Settings, clock: ManualClock
) -> None:
    recorder = Recorder()
    bot = build(settings, clock, ports(recorder))
    other = build(settings, clock, ports(recorder))  # a second replica on the same database
    try:
        complete(bot, clock)
        assert bot.signoffs is not None and other.signoffs is not None
        assert bot.signoffs.follow_through.remind_due() == 0  # nothing is due for a week

        # A day before "Document lessons learned" (7d) is due, its owner hears once.
        clock.advance(timedelta(days=6, minutes=1))
        sent = bot.signoffs.follow_through.remind_due() + other.signoffs.follow_through.remind_due()
        assert sent == len(recorder.told) > 0
        [(user, text)] = reminders(recorder, "Document lessons learned")
        assert user == "UENG" and "is due in" in text and f"/approve checklist {FLAG}" in text
        assert reminders(recorder, "Performance analysis report")  # week 1 of the checklists
        assert not reminders(recorder, "Capacity planning")  # due in four weeks
        assert bot.signoffs.follow_through.remind_due() == 0  # nothing twice

        # Overdue: told once more, and `/rollout status` lists it with its owner.
        clock.advance(timedelta(days=1, hours=1))
        bot.signoffs.follow_through.remind_due()
        other.signoffs.follow_through.remind_due()
        told = reminders(recorder, "Document lessons learned")
        assert len(told) == 2 and "was due" in told[1][1]
        status = status_card(bot)
        assert "post-migration task(s) overdue" in status
        assert "“Document lessons learned” (Engineering Lead, 1h 1m overdue)" in status

        # Checked by its owner: no longer overdue, no more reminders.
        view, states = bot.signoffs.checklists.items(FLAG)
        item = next(s for s in states if s.item.text == "Document lessons learned")
        bot.signoffs.checklists.check(
            CheckButton(view.id, item.checklist.id, item.index), Actor("UENG", Via.SLACK)
        )
        status = status_card(bot)
        assert "Document lessons learned" not in status
    finally:
        bot.db.dispose()
        other.db.dispose()


def test_a_reminder_nobody_received_is_sent_again(settings: Settings, clock: ManualClock) -> None:
    recorder = Recorder()
    bot = build(settings, clock, ports(recorder))
    try:
        complete(bot, clock)
        assert bot.signoffs is not None
        clock.advance(timedelta(days=6, minutes=1))
        recorder.fail_tell = True
        assert bot.signoffs.follow_through.remind_due() == 0
        recorder.fail_tell = False
        assert bot.signoffs.follow_through.remind_due() > 0
        assert reminders(recorder, "Document lessons learned")
    finally:
        bot.db.dispose()


def test_remove_feature_flags_is_done_only_when_the_flag_is_gone(
    settings: Settings, clock: ManualClock
) -> None:
    recorder = Recorder()
    bot = build(settings, clock, ports(recorder))
    try:
        complete(bot, clock)
        assert bot.signoffs is not None
        checklists = bot.signoffs.checklists
        view, states = checklists.items(FLAG)
        item = next(s for s in states if s.item.text == "Remove feature flags")
        with pytest.raises(Conflict, match="checked by rollbot itself"):
            checklists.check(
                CheckButton(view.id, item.checklist.id, item.index), Actor("UENG", Via.SLACK)
            )
        checklists.run_due_probes()
        _, states = checklists.items(FLAG)
        item = next(s for s in states if s.item.text == "Remove feature flags")
        assert not item.done and "still exists" in (item.detail or "")

        # Removed through the flag API: the next probe run checks the item.
        client = TestClient(create_app(bot))
        assert client.delete(f"/flags/{FLAG}").status_code == 401
        answer = client.delete(f"/flags/{FLAG}", headers={"Authorization": f"Bearer {API_TOKEN}"})
        assert answer.status_code == 200, answer.text
        assert client.get(f"/flags/{FLAG}").status_code == 404
        clock.advance(timedelta(hours=1, minutes=1))
        checklists.run_due_probes()
        _, states = checklists.items(FLAG)
        item = next(s for s in states if s.item.text == "Remove feature flags")
        assert item.done and "gone" in (item.detail or "")
    finally:
        bot.db.dispose()


def test_a_flag_cannot_be_removed_while_its_rollout_runs(
    settings: Settings, clock: ManualClock
) -> None:
    bot = build(settings, clock, ports(Recorder()))
    try:
        bot.rollouts.start(FLAG, None, ALICE)
        client = TestClient(create_app(bot))
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        answer = client.delete(f"/flags/{FLAG}", headers=auth)
        assert answer.status_code == 409 and "running or paused" in answer.json()["error"]
        assert client.get(f"/flags/{FLAG}").status_code == 200
        assert client.delete("/flags/never-made", headers=auth).status_code == 404
    finally:
        bot.db.dispose()


def test_the_retrospective_is_written_from_the_timeline_with_names(
    settings: Settings, clock: ManualClock
) -> None:
    chat = RecordingChat(names={"UALICE": "Alice Adams"})
    bot = build(settings, clock, ports(Recorder(), chat))
    try:
        complete(bot, clock)
        retro = run_rollout(f"retro {FLAG}", ALICE, bot.rollouts, extra=bot.rollout_subcommands)
        text = retro.message.plain() if retro.message else retro.text
        assert text.startswith("# Retrospective: ")
        assert "started by Alice Adams" in text and "UALICE" not in text
        for section in (
            "## Phases",
            "## What happened",
            "## Sign-offs",
            "## Holds and pauses",
            "## Triggers and rollbacks",
            "## Incidents",
            "## Post-migration tasks",
            "## Lessons learned",
        ):
            assert section in text
        assert "| Phase 4: Full Production |" in text
        assert "advanced by Alice Adams (100%)" in text
        assert "- [ ] Remove feature flags (eng_lead, due " in text
        assert "No incident was linked to this rollout." in text
        refused = run_rollout("retro", ALICE, bot.rollouts, extra=bot.rollout_subcommands)
        assert refused.error and "needs a flag key" in slack_text(refused)
    finally:
        bot.db.dispose()
