"""Bolt listeners for incidents: `/incident`, the card's and the draft DM's buttons, the
declare and edit modals, and :pushpin: reactions in incident channels. Thin: parse, call
the service, render; the wrapper in bot/slack/listener.py acks, drops repeats and refuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.commands.incident import run_incident
from bot.commands.oncall import run_oncall
from bot.container import Rollbot
from bot.domain.actions import Action
from bot.domain.actor import Actor, Via
from bot.domain.ids import record_id
from bot.domain.incident import parse_impact, parse_severity
from bot.slack import listener
from bot.slack.blocks import chat_text, text_blocks
from bot.slack.incident_blocks import (
    DECLARE_MODAL,
    EDIT_MODAL,
    declare_modal,
    edit_modal,
    incident_card,
    timeline_messages,
)
from bot.slack.listener import Handler, Interaction, Listeners


def register_incidents(app: App, rollbot: Rollbot, listeners: Listeners) -> None:
    """Attach incident commands, buttons, modals and events."""
    app.command("/incident")(
        listeners.command("/incident", _command(rollbot), opens_modal=_declares)
    )
    app.command("/oncall")(listeners.command("/oncall", _oncall(rollbot)))
    listeners.button(app, Action.ACKNOWLEDGE, _incident_button(rollbot, "ack"))
    listeners.button(app, Action.RESOLVE, _incident_button(rollbot, "resolve"))
    listeners.button(app, Action.PUBLISH, _publish_button(rollbot))
    listeners.button(app, Action.EDIT, _edit_button(rollbot), opens_modal=True)
    app.view(DECLARE_MODAL)(
        listeners.submission("declare form", _check_declare, _declare_submitted(rollbot))
    )
    app.view(EDIT_MODAL)(listeners.submission("edit form", _check_edit, _edit_submitted(rollbot)))
    # Only :pushpin: is ours, so other listeners of reaction_added still get the rest.
    app.event("reaction_added", matchers=[_is_pushpin])(
        listener.event("pinning a message to the timeline", _pinned(rollbot))
    )


def _is_pushpin(event: dict[str, Any]) -> bool:
    item = event.get("item") or {}
    return event.get("reaction") == "pushpin" and item.get("type") == "message"


def _declares(i: Interaction) -> bool:
    """`/incident declare` opens the declare form (with the request's trigger id)."""
    return i.text.strip().lower() == "declare" and bool(i.body.get("trigger_id"))


def _command(rollbot: Rollbot) -> Handler:
    def on_incident(i: Interaction) -> None:
        trigger_id = i.body.get("trigger_id")
        if _declares(i) and trigger_id:
            i.client.views_open(trigger_id=trigger_id, view=declare_modal(i.channel_id))
            return
        reply = run_incident(i.text, i.actor, rollbot.incidents, i.channel_id)
        text = chat_text(reply.message or reply.text)
        if reply.timeline and not reply.error:
            for blocks in timeline_messages(text, reply.timeline):
                i.reply(text, blocks, refused=reply.error)
            return
        blocks = text_blocks(text)
        words = i.text.split()
        if reply.incident is not None and words and words[0].lower() == "status":
            blocks += incident_card(reply.incident)
        i.reply(text, blocks, refused=reply.error)

    return on_incident


def _oncall(rollbot: Rollbot) -> Handler:
    def on_oncall(i: Interaction) -> None:
        reply = run_oncall(i.text, rollbot.incidents)
        text = chat_text(reply.message or reply.text)
        i.reply(text, text_blocks(text))

    return on_oncall


def _value(value: str, key: str) -> int | None:
    try:
        return record_id(json.loads(value)[key])
    except (KeyError, TypeError, ValueError):
        return None


def _incident_button(rollbot: Rollbot, what: str) -> Handler:
    def on_button(i: Interaction) -> None:
        incident_id = _value(i.value, "incident")
        if incident_id is None:
            i.reply(":warning: This button does not say which incident it is for.", refused=True)
            return
        if what == "ack":
            rollbot.incidents.acknowledge(incident_id, i.actor)
        else:
            rollbot.incidents.resolve(incident_id, "", i.actor)

    return on_button


def _publish_button(rollbot: Rollbot) -> Handler:
    def on_publish(i: Interaction) -> None:
        update_id = _value(i.value, "update")
        if update_id is not None:
            rollbot.incidents.publish_draft(update_id, i.actor)

    return on_publish


def _edit_button(rollbot: Rollbot) -> Handler:
    def on_edit(i: Interaction) -> None:
        update_id = _value(i.value, "update")
        if update_id is None:
            return
        draft = rollbot.incidents.draft(update_id)
        if draft.state not in ("draft", "queued"):
            i.reply(
                f":warning: That status update is {draft.state}; it cannot be edited.",
                refused=True,
            )
            return
        i.client.views_open(trigger_id=i.body["trigger_id"], view=edit_modal(draft))

    return on_edit


def _state(view: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    return dict(((view.get("state") or {}).get("values") or {}).get(block, {}).get(action) or {})


def _title(view: dict[str, Any]) -> str:
    return str(_state(view, "title", "title").get("value") or "").strip()


def _check_declare(i: Interaction) -> dict[str, str] | None:
    return None if _title(i.view) else {"title": "Give the incident a title."}


def _declare_submitted(rollbot: Rollbot) -> Handler:
    def on_submit(i: Interaction) -> None:
        view = i.view
        severity = parse_severity(
            str(
                (_state(view, "severity", "severity").get("selected_option") or {}).get("value")
                or "sev3"
            )
        )
        impact_value = (_state(view, "impact", "impact").get("selected_option") or {}).get("value")
        raw = str(_state(view, "components", "components").get("value") or "")
        outcome = rollbot.incidents.declare(
            severity,
            _title(view),
            i.actor,
            impact=parse_impact(str(impact_value)) if impact_value else None,
            components=[c.strip() for c in raw.split(",") if c.strip()],
            origin_channel=str(view.get("private_metadata") or "") or None,
        )
        i.reply(chat_text(outcome.text))

    return on_submit


def _message(view: dict[str, Any]) -> str:
    return str(_state(view, "message", "message").get("value") or "").strip()


def _check_edit(i: Interaction) -> dict[str, str] | None:
    try:
        record_id(i.view.get("private_metadata") or 0)
    except ValueError:
        return {"message": "This form lost its status update; press Edit again."}
    return None if _message(i.view) else {"message": "A status update needs some text."}


def _edit_submitted(rollbot: Rollbot) -> Handler:
    def on_submit(i: Interaction) -> None:
        rollbot.incidents.edit_draft(
            record_id(i.view.get("private_metadata") or 0), _message(i.view), i.actor
        )

    return on_submit


def _pinned(rollbot: Rollbot) -> Callable[[dict[str, Any]], None]:
    def on_pin(event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        rollbot.incidents.pinned(
            str(item.get("channel")),
            str(item.get("ts")),
            Actor(str(event.get("user")), Via.SLACK),
        )

    return on_pin
