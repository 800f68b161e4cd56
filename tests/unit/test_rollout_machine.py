"""The rollout state machine on the shipped plan, with time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain import rollout as machine
from bot.domain.errors import InvalidTransition, RollbotError
from bot.domain.plan import Plan
from bot.domain.rollout import RolloutState
from bot.services.plans import load_plan_file

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "plans" / "realtime-features.yaml"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def plan() -> Plan:
    loaded, problems = load_plan_file(SHIPPED)
    assert loaded is not None, problems
    return loaded


def test_start_is_staging_at_zero_with_its_bake(plan: Plan) -> None:
    snap = machine.start(plan, T0)
    assert snap.state is RolloutState.RUNNING
    assert snap.step_index == 0
    assert snap.percentage == 0
    assert snap.step_started_at == T0
    assert snap.step_due_at == T0 + timedelta(days=7)
    assert snap.is_active()
    assert machine.flag_fields(snap) == {"enabled": False, "rollout_percentage": 0}


def test_advance_through_every_step_to_completed(plan: Plan) -> None:
    snap = machine.start(plan, T0)
    now = T0
    seen = [(snap.step_index, snap.percentage)]
    bakes = [timedelta(days=d) for d in (1, 3, 3, 2, 2, 3)]
    for i in range(1, 8):
        now += timedelta(days=1)
        assert machine.next_step(plan, snap) == plan.step(i)
        snap = machine.advance(plan, snap, now)
        seen.append((snap.step_index, snap.percentage))
        assert snap.step_started_at == now
        if i == 1:  # staff first: on for the internal segment only
            assert machine.flag_fields(snap, plan) == {
                "enabled": True,
                "rollout_percentage": 0,
                "segment_rollouts": {"internal": 100},
            }
        if i < 7:
            assert snap.state is RolloutState.RUNNING
            assert snap.step_due_at == now + bakes[i - 1]
    assert seen == [(0, 0), (1, 0), (2, 5), (3, 25), (4, 50), (5, 75), (6, 100), (7, 100)]
    assert snap.state is RolloutState.COMPLETED
    assert snap.step_due_at is None
    assert not snap.is_active()
    assert machine.next_step(plan, snap) is None
    assert machine.flag_fields(snap) == {"enabled": True, "rollout_percentage": 100}
    assert machine.flag_fields(snap, plan)["segment_rollouts"] == {"internal": 100}


def test_advancing_a_completed_rollout_is_refused_with_a_hint(plan: Plan) -> None:
    snap = machine.start(plan, T0)
    for _ in range(7):
        snap = machine.advance(plan, snap, T0)
    with pytest.raises(InvalidTransition) as info:
        machine.advance(plan, snap, T0)
    assert "already complete" in info.value.message
    assert "/rollout start" in info.value.hint
    for refuse in (
        lambda: machine.pause(snap, T0),
        lambda: machine.resume(snap, T0),
        lambda: machine.set_percentage(snap, 50, force=True),
    ):
        with pytest.raises(InvalidTransition):
            refuse()


def test_rolled_back_rollout_refuses_changes(plan: Plan) -> None:
    snap = machine.start(plan, T0)
    from dataclasses import replace

    rolled = replace(snap, state=RolloutState.ROLLED_BACK)
    with pytest.raises(InvalidTransition) as info:
        machine.advance(plan, rolled, T0)
    assert "rolled back" in info.value.message
    assert info.value.hint


def test_pause_keeps_remaining_bake_and_resume_restores_it(plan: Plan) -> None:
    staff = machine.advance(plan, machine.start(plan, T0), T0)
    snap = machine.advance(plan, staff, T0)  # 5%, bakes 3d
    assert snap.step_due_at == T0 + timedelta(days=3)

    paused = machine.pause(snap, T0 + timedelta(days=1, hours=6))
    assert paused.state is RolloutState.PAUSED
    assert paused.step_due_at is None
    assert paused.paused_remaining_s == int(timedelta(days=1, hours=18).total_seconds())
    assert paused.percentage == 5
    assert paused.is_active()

    resume_at = T0 + timedelta(days=20)
    resumed = machine.resume(paused, resume_at)
    assert resumed.state is RolloutState.RUNNING
    assert resumed.step_due_at == resume_at + timedelta(days=1, hours=18)
    assert resumed.paused_remaining_s is None
    assert resumed.step_index == 2 and resumed.percentage == 5


def test_pause_after_the_bake_passed_keeps_zero(plan: Plan) -> None:
    snap = machine.advance(plan, machine.start(plan, T0), T0)
    paused = machine.pause(snap, T0 + timedelta(days=10))
    assert paused.paused_remaining_s == 0
    resumed = machine.resume(paused, T0 + timedelta(days=11))
    assert resumed.step_due_at == T0 + timedelta(days=11)


def test_advance_while_paused_is_refused_with_a_hint(plan: Plan) -> None:
    paused = machine.pause(machine.start(plan, T0), T0)
    with pytest.raises(InvalidTransition) as info:
        machine.advance(plan, paused, T0)
    assert "paused" in info.value.message
    assert "/rollout resume" in info.value.hint


def test_double_pause_and_resume_of_running_are_refused(plan: Plan) -> None:
    snap = machine.start(plan, T0)
    paused = machine.pause(snap, T0)
    with pytest.raises(InvalidTransition, match="already paused"):
        machine.pause(paused, T0)
    with pytest.raises(InvalidTransition, match="not paused"):
        machine.resume(snap, T0)


def test_set_below_current_needs_force(plan: Plan) -> None:
    snap = machine.start(plan, T0)
    for _ in range(3):  # staff, 5%, 25%
        snap = machine.advance(plan, snap, T0)
    assert snap.percentage == 25
    with pytest.raises(InvalidTransition) as info:
        machine.set_percentage(snap, 10, force=False)
    assert "below the current 25%" in info.value.message
    assert "--force" in info.value.hint
    lowered = machine.set_percentage(snap, 10, force=True)
    assert lowered.percentage == 10
    assert lowered.step_index == snap.step_index
    raised = machine.set_percentage(snap, 40, force=False)
    assert raised.percentage == 40
    assert machine.set_percentage(snap, 25, force=False).percentage == 25


@pytest.mark.parametrize("pct", [-1, 101, 150])
def test_set_out_of_range_is_refused(plan: Plan, pct: int) -> None:
    with pytest.raises(RollbotError, match="not a percentage"):
        machine.set_percentage(machine.start(plan, T0), pct, force=True)


def test_advance_never_lowers_a_percentage_set_by_hand(plan: Plan) -> None:
    snap = machine.set_percentage(machine.start(plan, T0), 30, force=False)
    snap = machine.advance(plan, snap, T0)  # plan says 0% (staff at 100%)
    assert snap.percentage == 30
    snap = machine.advance(plan, snap, T0)  # plan says 5%
    assert snap.percentage == 30
    snap = machine.advance(plan, snap, T0)  # plan says 25%
    assert snap.percentage == 30
    snap = machine.advance(plan, snap, T0)  # plan says 50%
    assert snap.percentage == 50


def test_staging_step_is_never_due(plan: Plan) -> None:
    snap = machine.start(plan, T0)
    assert not machine.is_due(plan, snap, T0 + timedelta(days=7))
    assert not machine.is_due(plan, snap, T0 + timedelta(days=365))


def test_auto_step_is_due_only_after_its_bake(plan: Plan) -> None:
    snap = machine.advance(plan, machine.start(plan, T0), T0)  # staff at 100%, 1d
    assert not machine.is_due(plan, snap, T0)
    assert not machine.is_due(plan, snap, T0 + timedelta(days=1) - timedelta(seconds=1))
    assert machine.is_due(plan, snap, T0 + timedelta(days=1))
    assert machine.is_due(plan, snap, T0 + timedelta(days=2))
    five = machine.advance(plan, snap, T0 + timedelta(days=1))  # 5%, 3d
    assert not machine.is_due(plan, five, T0 + timedelta(days=4) - timedelta(seconds=1))
    assert machine.is_due(plan, five, T0 + timedelta(days=4))


def test_paused_and_completed_are_never_due(plan: Plan) -> None:
    snap = machine.advance(plan, machine.start(plan, T0), T0)
    later = T0 + timedelta(days=30)
    assert not machine.is_due(plan, machine.pause(snap, T0), later)
    done = snap
    while done.state is not RolloutState.COMPLETED:
        done = machine.advance(plan, done, T0)
    assert not machine.is_due(plan, done, later)
