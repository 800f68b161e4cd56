"""What a rollout looks like to people: the data behind its card, shared by Slack and shell."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain import rollout as machine
from bot.domain.actions import Action, Emphasis
from bot.domain.plan import STORED_PLANS, Plan, Step
from bot.domain.rollout import RolloutSnapshot, RolloutState
from bot.services.events import Said
from bot.services.rollouts.events import rollout_wait
from bot.store.models import RolloutRow
from bot.store.types import content_key


@dataclass(frozen=True)
class Button:
    """A button on the card: label, what it does, the value it carries and how much it
    stands out."""

    label: str
    action: Action
    value: str
    emphasis: Emphasis = Emphasis.NONE


@dataclass(frozen=True)
class RolloutView:
    """Everything the card shows, computed once from the stored rollout and the plan."""

    id: int
    flag_key: str
    plan_name: str
    plan_title: str
    state: RolloutState
    phase_name: str
    phase_number: int
    phase_count: int
    step_name: str
    step_number: int
    step_count: int
    percentage: int
    started_by: str
    started_at: datetime
    next_step: str | None
    next_percentage: int | None
    due_at: datetime | None
    auto_advance: bool
    # What it waits for (`RolloutWait`, or an annotator's event when it explains it better,
    # e.g. a rollback under way); adapters word it with `held` (bot/wording: waiting_line).
    waiting_for: Said
    channel_id: str | None
    message_ts: str | None
    version: int
    buttons: list[Button] = field(default_factory=list)
    # Extra sections added by features through RolloutService.annotators, e.g. the sign-off
    # chain, the checklist items holding a gate, the flag's segments: an event the adapters
    # word (bot/wording/), a `Message`, or mrkdwn text.
    notes: tuple[str | Said, ...] = ()
    # What holds the rollout at its step, short (the notes say it in full), e.g. the
    # signatures a gate still needs: the card's waiting line ends " Held: a; b."
    held: tuple[Said, ...] = ()
    # The plan the rollout runs (validated once per content and shared: read, never change).
    plan: Plan | None = field(default=None, compare=False, repr=False)

    def button_value(self) -> str:
        """The value buttons carry: which rollout and which step they were pressed on."""
        return json.dumps({"rollout": self.id, "step": self.step_number - 1})


def snapshot_of(row: RolloutRow) -> RolloutSnapshot:
    """The domain's view of a stored rollout."""
    return RolloutSnapshot(
        state=RolloutState(row.state),
        step_index=row.step_index,
        percentage=row.percentage,
        step_started_at=row.step_started_at,
        step_due_at=row.step_due_at,
        paused_remaining_s=row.paused_remaining_s,
    )


def plan_of(row: RolloutRow) -> Plan:
    """The plan as it was when the rollout started (kept with the rollout), validated once
    per distinct content (`StoredPlans`)."""
    return STORED_PLANS.get(row.plan, content_key(row.plan))


def build_view(row: RolloutRow, now: datetime, plan: Plan | None = None) -> RolloutView:
    """The card data for a stored rollout at time `now` (`plan`: the row's plan, when the
    caller has parsed it already)."""
    assert row.id is not None
    plan = plan or plan_of(row)
    snap = snapshot_of(row)
    planned = plan.step(snap.step_index)
    nxt = machine.next_step(plan, snap)
    view = RolloutView(
        id=row.id,
        flag_key=row.flag_key,
        plan_name=plan.name,
        plan_title=plan.title,
        state=snap.state,
        phase_name=planned.phase.name,
        phase_number=plan.phases.index(planned.phase) + 1,
        phase_count=len(plan.phases),
        step_name=planned.step.name,
        step_number=snap.step_index + 1,
        step_count=plan.last_index + 1,
        percentage=snap.percentage,
        started_by=row.started_by,
        started_at=row.started_at,
        next_step=nxt.step.name if nxt else None,
        next_percentage=nxt.step.percentage if nxt else None,
        due_at=snap.step_due_at,
        auto_advance=planned.step.auto_advance,
        waiting_for=rollout_wait(plan, snap, now),
        channel_id=row.channel_id,
        message_ts=row.message_ts,
        version=row.version,
        plan=plan,
    )
    buttons: list[Button] = []
    value = view.button_value()
    if snap.state is RolloutState.RUNNING and nxt is not None:
        buttons.append(Button(advance_label(nxt.step), Action.ADVANCE, value, Emphasis.CONFIRM))
        buttons.append(Button("Pause", Action.PAUSE, value))
    elif snap.state is RolloutState.PAUSED:
        buttons.append(Button("Resume", Action.RESUME, value, Emphasis.CONFIRM))
    return RolloutView(**{**view.__dict__, "buttons": buttons})


# Slack's limit on a button's text.
BUTTON_LABEL_LIMIT = 75


def advance_label(step: Step) -> str:
    """The Advance button's text: the next percentage, and the segments that step sets (the
    staff step would read "Advance to 0%" alone)."""
    label = f"Advance to {step.percentage}%"
    if not step.segments:
        return label
    shown = ", ".join(f"{name} {pct}%" for name, pct in sorted(step.segments.items()))
    full = f"{label} ({shown})"
    return full if len(full) <= BUTTON_LABEL_LIMIT else f"{label} (segments)"
