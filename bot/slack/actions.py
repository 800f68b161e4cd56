"""Slack's action ids of rollbot's buttons, their Block Kit styles, and the callback ids of
its forms.

The ids are what buttons already posted in Slack carry, so they never change.
"""

from __future__ import annotations

from bot.domain.actions import Action, Emphasis

ACTION_IDS: dict[Action, str] = {
    Action.ADVANCE: "rollout_advance",
    Action.PAUSE: "rollout_pause",
    Action.RESUME: "rollout_resume",
    Action.APPROVE: "signoff_approve",
    Action.REJECT: "signoff_reject",
    Action.CHECK: "checklist_check",
    Action.ACKNOWLEDGE: "incident_ack",
    Action.RESOLVE: "incident_resolve",
    Action.PUBLISH: "incident_publish_draft",
    Action.EDIT: "incident_edit_draft",
    Action.RERUN_STEP: "rollback_rerun_step",
    Action.SKIP_STEP: "rollback_skip_step",
    Action.ABORT_ROLLBACK: "rollback_abort",
}

# Block Kit's button styles: green for the step forward, red for what ends or refuses.
STYLES: dict[Emphasis, str | None] = {
    Emphasis.NONE: None,
    Emphasis.CONFIRM: "primary",
    Emphasis.DESTRUCTIVE: "danger",
}

REJECT_CALLBACK = "signoff_reject_reason"


def action_id(action: Action) -> str:
    """The Slack action id of a button."""
    return ACTION_IDS[action]


def button_style(emphasis: Emphasis) -> str | None:
    """The Block Kit `style` of a button (None: Slack's default look)."""
    return STYLES[emphasis]
