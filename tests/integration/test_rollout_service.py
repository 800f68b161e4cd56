"""RolloutService against a real database (SQLite file and PostgreSQL).

Covers the flag set through the built-in provider, the audit trail, refusals that change
nothing, restarts, and the concurrency rule: two requests at the same moment change a
rollout once, also across replicas sharing the database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.domain.actor import SCHEDULER, Actor, Via
from bot.domain.errors import Conflict, InvalidTransition, NotFound, RollbotError
from bot.domain.flag import FlagDocument
from bot.domain.rollout import RolloutState
from bot.services.extensions import SealedError
from bot.services.rollouts.holds import HoldQuery
from bot.slack.blocks import chat_text
from bot.store import audit
from bot.store.models import AuditRow
from tests.conftest import built

FLAG = "realtime-features"
ALICE = Actor("U0ALICE", Via.SLACK)
BOB = Actor("U0BOB", Via.SLACK)


def events(bot: Rollbot, key: str = FLAG, action: str | None = None) -> list[AuditRow]:
    with bot.db.session() as s:
        return audit.events(s, subject_id=key, action=action)


def run_together(*calls: Callable[[], Any]) -> list[tuple[str, Any]]:
    """Run the calls in threads released at the same moment; return ("ok", value) or
    ("error", exception) for each, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[tuple[str, Any]] = [("missing", None)] * len(calls)

    def worker(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = ("ok", call())
        except Exception as exc:
            results[i] = ("error", exc)

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


def test_start_sets_the_flag_off_at_zero_and_audits(rollbot: Rollbot, clock: ManualClock) -> None:
    outcome = rollbot.rollouts.start(FLAG, None, ALICE, channel_id="C1")

    view = outcome.view
    assert view.flag_key == FLAG
    assert view.plan_name == "realtime-features"
    assert view.state is RolloutState.RUNNING
    assert (view.step_number, view.step_count, view.percentage) == (1, 8, 0)
    assert view.due_at == clock.now() + timedelta(days=7)
    assert view.started_by == ALICE.id
    assert view.channel_id == "C1"
    assert "<@U0ALICE> started" in chat_text(outcome.event)

    assert rollbot.flags.get(FLAG) == FlagDocument(
        enabled=False, rollout_percentage=0, monitoring_enabled=True
    )
    rows = events(rollbot)
    assert [r.action for r in rows] == ["flag.created", "rollout.started"]
    flag_row, started = rows
    assert (flag_row.actor, flag_row.via, flag_row.subject_type) == ("U0ALICE", "slack", "flag")
    assert flag_row.before is None
    assert flag_row.after == FlagDocument().model_dump()
    assert (started.actor, started.via, started.subject_type) == ("U0ALICE", "slack", "rollout")
    assert started.before is None
    assert started.after is not None
    assert started.after["step"] == 0
    assert started.after["percentage"] == 0
    assert started.after["plan"] == "realtime-features"
    assert started.at == clock.now()


def test_advance_turns_staff_on_then_five_percent_and_audits(
    rollbot: Rollbot, clock: ManualClock
) -> None:
    rollbot.rollouts.start(FLAG, None, ALICE)
    clock.advance(timedelta(days=7))
    staff = rollbot.rollouts.advance(FLAG, BOB)

    # The shipped plan's Phase 2 starts with staff: the flag on for `internal` only
    assert (staff.view.step_number, staff.view.percentage) == (2, 0)
    assert staff.view.step_name == "Staff at 100% (internal segment)"
    doc = rollbot.flags.get(FLAG)
    assert doc is not None
    assert (doc.enabled, doc.rollout_percentage, doc.segment_rollouts) == (
        True, 0, {"internal": 100},
    )  # fmt: skip
    assert staff.view.due_at == clock.now() + timedelta(days=1)

    clock.advance(timedelta(days=1))
    outcome = rollbot.rollouts.advance(FLAG, BOB)
    assert (outcome.view.step_number, outcome.view.percentage) == (3, 5)
    assert "from 0% to 5%" in chat_text(outcome.event)
    doc = rollbot.flags.get(FLAG)
    assert doc is not None
    assert doc.enabled is True
    assert doc.rollout_percentage == 5
    assert doc.segment_rollouts == {"internal": 100}  # staff stay at 100%

    rows = events(rollbot)
    assert [r.action for r in rows] == [
        "flag.created",
        "rollout.started",
        "flag.changed",
        "rollout.advanced",
        "flag.changed",
        "rollout.advanced",
    ]
    changed, advanced = rows[2], rows[3]
    assert changed.before is not None and changed.after is not None
    assert (changed.before["enabled"], changed.before["segment_rollouts"]) == (False, {})
    assert (changed.after["enabled"], changed.after["segment_rollouts"]) == (
        True, {"internal": 100},
    )  # fmt: skip
    assert advanced.after is not None and advanced.after["step"] == 1
    changed, advanced = rows[4], rows[5]
    for row in (changed, advanced):
        assert (row.actor, row.via) == ("U0BOB", "slack")
        assert row.at == clock.now()
    assert changed.before is not None and changed.after is not None
    assert (changed.before["enabled"], changed.before["rollout_percentage"]) == (True, 0)
    assert (changed.after["enabled"], changed.after["rollout_percentage"]) == (True, 5)
    assert advanced.before is not None and advanced.after is not None
    assert (advanced.before["step"], advanced.before["percentage"]) == (1, 0)
    assert (advanced.after["step"], advanced.after["percentage"]) == (2, 5)
    assert advanced.after["state"] == "running"


def test_full_walk_to_completion(rollbot: Rollbot, clock: ManualClock) -> None:
    rollbot.rollouts.start(FLAG, None, ALICE)
    percentages = []
    for _ in range(7):
        clock.advance(timedelta(hours=1))
        percentages.append(rollbot.rollouts.advance(FLAG, ALICE).view.percentage)
    assert percentages == [0, 5, 25, 50, 75, 100, 100]  # staff first, at 0% for everyone
    view = rollbot.rollouts.status(FLAG)
    assert view.state is RolloutState.COMPLETED
    assert rollbot.rollouts.active() == []
    with pytest.raises(InvalidTransition) as info:
        rollbot.rollouts.advance(FLAG, ALICE)
    assert "completed" in info.value.message
    assert f"/rollout start {FLAG}" in info.value.hint
    # A finished rollout frees the flag for a new one.
    again = rollbot.rollouts.start(FLAG, None, ALICE)
    assert again.view.id != view.id


def test_second_start_of_the_same_flag_is_refused(rollbot: Rollbot) -> None:
    first = rollbot.rollouts.start(FLAG, None, ALICE)
    before = events(rollbot)
    with pytest.raises(InvalidTransition) as info:
        rollbot.rollouts.start(FLAG, None, BOB)
    assert "already has a rollout in progress" in info.value.message
    assert f"/rollout status {FLAG}" in info.value.hint
    assert len(events(rollbot)) == len(before)
    assert [v.id for v in rollbot.rollouts.active()] == [first.view.id]


def test_two_simultaneous_starts_make_one_rollout(rollbot: Rollbot) -> None:
    results = run_together(
        lambda: rollbot.rollouts.start("chat-v2", "realtime-features", ALICE),
        lambda: rollbot.rollouts.start("chat-v2", "realtime-features", BOB),
    )
    kinds = sorted(kind for kind, _ in results)
    assert kinds == ["error", "ok"], results
    error = next(v for k, v in results if k == "error")
    assert isinstance(error, RollbotError)
    assert len(rollbot.rollouts.active()) == 1
    assert [r.action for r in events(rollbot, "chat-v2")] == ["flag.created", "rollout.started"]


def test_two_simultaneous_typed_advances_advance_once(rollbot: Rollbot, clock: ManualClock) -> None:
    rollbot.rollouts.start(FLAG, None, ALICE)
    clock.advance(timedelta(days=7))
    rollbot.rollouts.advance(FLAG, ALICE)  # step 1 (staff)
    clock.advance(timedelta(days=1))
    rollbot.rollouts.advance(FLAG, ALICE)  # step 2 (5%)
    clock.advance(timedelta(days=1))

    results = run_together(
        lambda: rollbot.rollouts.advance(FLAG, ALICE),
        lambda: rollbot.rollouts.advance(FLAG, BOB),
    )

    kinds = sorted(kind for kind, _ in results)
    assert kinds == ["error", "ok"], results
    error = next(v for k, v in results if k == "error")
    assert isinstance(error, Conflict)
    assert error.hint
    view = rollbot.rollouts.status(FLAG)
    assert (view.step_number, view.percentage) == (4, 25)
    assert len(events(rollbot, action="rollout.advanced")) == 3
    doc = rollbot.flags.get(FLAG)
    assert doc is not None and doc.rollout_percentage == 25


def test_two_simultaneous_advances_from_the_first_step_advance_once(
    rollbot: Rollbot,
) -> None:
    rollbot.rollouts.start(FLAG, None, ALICE)
    results = run_together(
        lambda: rollbot.rollouts.advance(FLAG, ALICE),
        lambda: rollbot.rollouts.advance(FLAG, BOB),
    )
    assert sorted(kind for kind, _ in results) == ["error", "ok"], results
    assert rollbot.rollouts.status(FLAG).step_number == 2
    assert len(events(rollbot, action="rollout.advanced")) == 1


def test_two_simultaneous_button_advances_advance_once(
    rollbot: Rollbot, clock: ManualClock
) -> None:
    rollbot.rollouts.start(FLAG, None, ALICE)
    rollbot.rollouts.advance(FLAG, ALICE)  # step index 1
    clock.advance(timedelta(hours=1))

    results = run_together(
        lambda: rollbot.rollouts.advance(FLAG, ALICE, expected_step=1),
        lambda: rollbot.rollouts.advance(FLAG, BOB, expected_step=1),
    )

    assert sorted(kind for kind, _ in results) == ["error", "ok"], results
    error = next(v for k, v in results if k == "error")
    assert isinstance(error, Conflict)
    assert "out of date" in error.message
    assert rollbot.rollouts.status(FLAG).step_number == 3
    assert len(events(rollbot, action="rollout.advanced")) == 2


def test_button_right_after_an_advance_is_exact_not_guarded(
    rollbot: Rollbot,
) -> None:
    rollbot.rollouts.start(FLAG, None, ALICE)
    rollbot.rollouts.advance(FLAG, ALICE, expected_step=0)
    # A typed advance moments later is refused by the guard ...
    with pytest.raises(Conflict):
        rollbot.rollouts.advance(FLAG, BOB)
    # ... a button pressed on the current card goes through.
    assert rollbot.rollouts.advance(FLAG, BOB, expected_step=1).view.step_number == 3
    # ... a stale button does nothing.
    with pytest.raises(Conflict):
        rollbot.rollouts.advance(FLAG, BOB, expected_step=1)
    assert rollbot.rollouts.status(FLAG).step_number == 3


def _to_first_auto_step(bot: Rollbot, clock: ManualClock) -> None:
    """Staff at 100%, its 1-day bake just passed: due to advance by itself to 5%."""
    bot.rollouts.start(FLAG, None, ALICE)
    bot.rollouts.advance(FLAG, ALICE)  # staff at 100%, bakes 1d, advances by itself
    clock.advance(timedelta(days=1, seconds=1))


def test_staging_step_is_never_advanced_by_the_scheduler(
    rollbot: Rollbot, clock: ManualClock
) -> None:
    rollbot.rollouts.start(FLAG, None, ALICE)
    clock.advance(timedelta(days=30))
    assert rollbot.rollouts.advance_due() == []
    assert rollbot.rollouts.status(FLAG).step_number == 1


def test_advance_due_only_after_the_bake(rollbot: Rollbot, clock: ManualClock) -> None:
    rollbot.rollouts.start(FLAG, None, ALICE)
    rollbot.rollouts.advance(FLAG, ALICE)  # staff at 100%, bakes 1d
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    assert rollbot.rollouts.advance_due() == []
    clock.advance(timedelta(seconds=1))
    done = rollbot.rollouts.advance_due()
    assert [o.view.percentage for o in done] == [5]
    doc = rollbot.flags.get(FLAG)
    assert doc is not None and doc.segment_rollouts == {"internal": 100}  # staff stay on
    clock.advance(timedelta(days=3) - timedelta(seconds=1))
    assert rollbot.rollouts.advance_due() == []
    clock.advance(timedelta(seconds=1))
    done = rollbot.rollouts.advance_due()
    assert [o.view.percentage for o in done] == [25]
    assert "bake time passed" in chat_text(done[0].event)
    rows = events(rollbot, action="rollout.advanced")
    assert (rows[-1].actor, rows[-1].via) == (SCHEDULER.id, "scheduler")
    flag_rows = events(rollbot, action="flag.changed")
    assert flag_rows[-1].via == "scheduler"
    assert rollbot.rollouts.advance_due() == []


def test_advance_due_from_two_threads_advances_once(rollbot: Rollbot, clock: ManualClock) -> None:
    _to_first_auto_step(rollbot, clock)

    results = run_together(rollbot.rollouts.advance_due, rollbot.rollouts.advance_due)

    assert all(kind == "ok" for kind, _ in results), results
    assert sum(len(value) for _, value in results) == 1
    view = rollbot.rollouts.status(FLAG)
    assert (view.step_number, view.percentage) == (3, 5)
    assert len(events(rollbot, action="rollout.advanced")) == 2


def test_advance_due_on_two_replicas_at_once_advances_once(
    rollbot: Rollbot, settings: Settings, clock: ManualClock
) -> None:
    _to_first_auto_step(rollbot, clock)
    replica = build(settings, clock)
    try:
        results = run_together(rollbot.rollouts.advance_due, replica.rollouts.advance_due)
        assert all(kind == "ok" for kind, _ in results), results
        assert sum(len(value) for _, value in results) == 1
        # Later ticks on either replica find nothing more to do.
        assert replica.rollouts.advance_due() == []
        assert rollbot.rollouts.advance_due() == []
        assert replica.rollouts.status(FLAG).step_number == 3
    finally:
        replica.db.dispose()
    assert len(events(rollbot, action="rollout.advanced")) == 2


def test_advance_due_after_a_restart_advances_once(
    rollbot: Rollbot, settings: Settings, clock: ManualClock
) -> None:
    _to_first_auto_step(rollbot, clock)
    assert len(rollbot.rollouts.advance_due()) == 1
    rollbot.db.dispose()
    restarted = build(settings, clock)
    try:
        assert restarted.rollouts.advance_due() == []
        assert restarted.rollouts.status(FLAG).step_number == 3
        clock.advance(timedelta(days=3))
        assert [o.view.percentage for o in restarted.rollouts.advance_due()] == [25]
    finally:
        restarted.db.dispose()


def test_restart_sees_the_rollout_where_it_was(
    rollbot: Rollbot, settings: Settings, clock: ManualClock
) -> None:
    rollbot.rollouts.start(FLAG, None, ALICE)
    rollbot.rollouts.advance(FLAG, ALICE)  # staff
    rollbot.rollouts.advance(FLAG, ALICE, expected_step=1)  # 5%, bakes 3d
    clock.advance(timedelta(days=1))
    rollbot.rollouts.pause(FLAG, BOB)
    before = rollbot.rollouts.status(FLAG)
    rollbot.db.dispose()

    restarted = build(settings, clock)
    try:
        view = restarted.rollouts.status(FLAG)
        assert view == before
        assert view.state is RolloutState.PAUSED
        assert (view.step_number, view.percentage) == (3, 5)
        assert restarted.flags.get(FLAG) == FlagDocument(
            enabled=True, rollout_percentage=5, monitoring_enabled=True,
            segment_rollouts={"internal": 100},
        )  # fmt: skip
        clock.advance(timedelta(days=10))
        resumed = restarted.rollouts.resume(FLAG, ALICE)
        # 3d bake, 1d spent before the pause: 2d left after resuming.
        assert resumed.view.due_at == clock.now() + timedelta(days=2)
    finally:
        restarted.db.dispose()


def test_pause_and_resume_keep_the_bake_time(rollbot: Rollbot, clock: ManualClock) -> None:
    _to_first_auto_step(rollbot, clock)  # 4d+1s passed: already due
    rollbot.rollouts.pause(FLAG, ALICE)
    clock.advance(timedelta(days=2))
    assert rollbot.rollouts.advance_due() == []  # paused rollouts are not advanced
    with pytest.raises(InvalidTransition) as info:
        rollbot.rollouts.advance(FLAG, ALICE)
    assert "/rollout resume" in info.value.hint
    rollbot.rollouts.resume(FLAG, ALICE)
    assert [o.view.percentage for o in rollbot.rollouts.advance_due()] == [5]
    actions = [r.action for r in events(rollbot) if r.subject_type == "rollout"]
    assert actions == [
        "rollout.started",
        "rollout.advanced",
        "rollout.paused",
        "rollout.resumed",
        "rollout.advanced",
    ]


def test_lowering_without_force_is_refused_and_changes_nothing(
    rollbot: Rollbot, clock: ManualClock
) -> None:
    rollbot.rollouts.start(FLAG, None, ALICE)
    rollbot.rollouts.advance(FLAG, ALICE)  # staff
    clock.advance(timedelta(hours=1))
    rollbot.rollouts.advance(FLAG, ALICE)  # 5%
    clock.advance(timedelta(hours=1))
    rollbot.rollouts.advance(FLAG, ALICE)  # 25%
    status_before = rollbot.rollouts.status(FLAG)
    flag_before = rollbot.flags.get(FLAG)
    audit_before = len(events(rollbot))

    with pytest.raises(InvalidTransition) as info:
        rollbot.rollouts.set_percentage(FLAG, 10, BOB)
    assert "--force" in info.value.hint

    assert rollbot.rollouts.status(FLAG) == status_before
    assert rollbot.flags.get(FLAG) == flag_before
    assert len(events(rollbot)) == audit_before

    forced = rollbot.rollouts.set_percentage(FLAG, 10, BOB, force=True)
    assert forced.view.percentage == 10
    doc = rollbot.flags.get(FLAG)
    assert doc is not None and doc.rollout_percentage == 10
    last = events(rollbot)[-1]
    assert last.action == "rollout.percentage_set"
    assert last.before is not None and last.after is not None
    assert (last.before["percentage"], last.after["percentage"]) == (25, 10)


def test_set_to_zero_turns_the_flag_off_for_everyone_but_the_plans_segments(
    rollbot: Rollbot, clock: ManualClock
) -> None:
    """`/rollout set 0` is 0% of everyone; the plan's staff step still holds (a rollback
    turns the flag off for them too)."""
    rollbot.rollouts.start(FLAG, None, ALICE)
    rollbot.rollouts.advance(FLAG, ALICE)  # staff
    rollbot.rollouts.advance(FLAG, ALICE, expected_step=1)  # 5%
    rollbot.rollouts.set_percentage(FLAG, 0, ALICE, force=True)
    doc = rollbot.flags.get(FLAG)
    assert doc is not None
    assert (doc.enabled, doc.rollout_percentage, doc.segment_rollouts) == (
        True, 0, {"internal": 100},
    )  # fmt: skip
    users = [f"user-{i}" for i in range(200)]
    everyone = [rollbot.flag_api.evaluate(FLAG, u, []) for u in users]
    assert not any(e is not None and e.enabled for e in everyone)
    staff = [rollbot.flag_api.evaluate(FLAG, u, ["internal"]) for u in users]
    assert all(e is not None and e.enabled for e in staff)


def test_unknown_flag_is_not_found_with_a_hint(rollbot: Rollbot) -> None:
    with pytest.raises(NotFound) as info:
        rollbot.rollouts.advance("no-such-flag", ALICE)
    assert "no-such-flag" in info.value.message
    assert "/rollout start" in info.value.hint
    with pytest.raises(NotFound):
        rollbot.rollouts.status("no-such-flag")

    rollbot.rollouts.start(FLAG, None, ALICE)
    with pytest.raises(NotFound) as info:
        rollbot.rollouts.pause("no-such-flag", ALICE)
    assert FLAG in info.value.hint  # names the rollouts there are


def test_unknown_plan_and_bad_key_are_refused(rollbot: Rollbot) -> None:
    with pytest.raises(NotFound) as info:
        rollbot.rollouts.start("other", "nope", ALICE)
    assert "realtime-features" in info.value.hint
    with pytest.raises(RollbotError) as bad:
        rollbot.rollouts.start("bad/key", None, ALICE)
    assert "Unleash" in bad.value.hint
    assert rollbot.rollouts.active() == []
    assert rollbot.flags.get("other") is None


class _HoldEverything:
    """A hold that keeps every rollout where it is, for manual or automatic advances."""

    def __init__(self, automatic_only: bool) -> None:
        self.automatic_only = automatic_only

    def hold(self, query: HoldQuery) -> str | None:
        if self.automatic_only and not query.automatic:
            return None
        return "the test holds it"


def test_a_hold_stops_manual_and_scheduled_advances(settings: Settings, clock: ManualClock) -> None:
    with built(settings, clock, holds=[_HoldEverything(automatic_only=False)]) as rollbot:
        rollbot.rollouts.start("held", "realtime-features", ALICE)
        with pytest.raises(InvalidTransition, match="the test holds it"):
            rollbot.rollouts.advance("held", ALICE)
        assert rollbot.rollouts.status("held").step_number == 1
        clock.advance(timedelta(days=30))
        assert rollbot.rollouts.advance_due() == []
        assert rollbot.rollouts.status("held").step_number == 1


def test_an_automatic_only_hold_lets_a_person_advance_but_not_the_scheduler(
    settings: Settings, clock: ManualClock
) -> None:
    with built(settings, clock, holds=[_HoldEverything(automatic_only=True)]) as rollbot:
        rollbot.rollouts.start("held", "realtime-features", ALICE)
        rollbot.rollouts.advance("held", ALICE)
        clock.advance(timedelta(days=30))
        assert rollbot.rollouts.advance_due() == []
        assert rollbot.rollouts.status("held").step_number == 2


def test_nothing_is_added_to_a_built_rollbot(rollbot: Rollbot) -> None:
    """The graph is fixed once `build` returns: another hold or listener is a parameter of
    `build`, not something a test or an adapter adds afterwards."""
    with pytest.raises(SealedError, match="pass it to build"):
        rollbot.rollouts.holds.add(_HoldEverything(automatic_only=False))
    with pytest.raises(SealedError):
        rollbot.rollback.listeners.add(lambda _report: None)
    assert isinstance(rollbot.status_pages, tuple)
