"""Bolt listeners for incidents, kept thin: ack, drop repeats, parse, call the service,
render. `/incident`, the card's and the draft DM's buttons, the declare and edit modals,
and :pushpin: reactions in incident channels."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.commands.incident import run_incident
from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.domain.errors import RollbotError
from bot.domain.incident import parse_impact, parse_severity
from bot.services.incidents.views import ACTION_ACK, ACTION_EDIT, ACTION_PUBLISH, ACTION_RESOLVE
from bot.slack.blocks import text_blocks
from bot.slack.incident_blocks import (
    DECLARE_MODAL,
    EDIT_MODAL,
    declare_modal,
    edit_modal,
    incident_card,
    timeline_messages,
)
from bot.slack.incident_chat import SlackIncidentChat
from bot.slack.replies import ephemeral, first_click, first_command, refusal_text

log = logging.getLogger(__name__)

UNEXPECTED = ":x: rollbot hit an unexpected problem (it is logged). Check `/incident status`."
Listener = Callable[..., None]


def register_incidents(app: App, rollbot: Rollbot) -> None:
    """Attach incident commands, buttons, modals and events; incidents now live in Slack."""
    rollbot.set_incident_chat(SlackIncidentChat(app.client))
    app.command("/incident")(_command(rollbot))
    app.action(ACTION_ACK)(_incident_button(rollbot, "ack"))
    app.action(ACTION_RESOLVE)(_incident_button(rollbot, "resolve"))
    app.action(ACTION_PUBLISH)(_publish_button(rollbot))
    app.action(ACTION_EDIT)(_edit_button(rollbot))
    app.view(DECLARE_MODAL)(_declare_submitted(rollbot))
    app.view(EDIT_MODAL)(_edit_submitted(rollbot))
    # Only :pushpin: is ours, so other listeners of reaction_added still get the rest.
    app.event("reaction_added", matchers=[_is_pushpin])(_pinned(rollbot))


def _is_pushpin(event: dict[str, Any]) -> bool:
    item = event.get("item") or {}
    return event.get("reaction") == "pushpin" and item.get("type") == "message"


def _command(rollbot: Rollbot) -> Listener:
    def on_incident(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        try:
            if not first_command(rollbot, body):
                return
            text = str(body.get("text") or "")
            channel_id = body.get("channel_id")
            trigger_id = body.get("trigger_id")
            if text.strip().lower() == "declare" and trigger_id:
                client.views_open(trigger_id=trigger_id, view=declare_modal(channel_id))
                return
            actor = Actor(str(body["user_id"]), Via.SLACK)
            reply = run_incident(text, actor, rollbot.incidents, channel_id)
            if reply.timeline and not reply.error:
                for blocks in timeline_messages(reply.text, reply.timeline):
                    ephemeral(respond, reply.text, blocks)
                return
            blocks = text_blocks(reply.text)
            words = text.split()
            if reply.incident is not None and words and words[0].lower() == "status":
                blocks += incident_card(reply.incident)
            ephemeral(respond, reply.text, blocks)
        except Exception:
            log.exception("/incident failed")
            ephemeral(respond, UNEXPECTED)

    return on_incident


def _value(action: dict[str, Any], key: str) -> int | None:
    try:
        return int(json.loads(str(action["value"]))[key])
    except (KeyError, TypeError, ValueError):
        return None


def _incident_button(rollbot: Rollbot, what: str) -> Listener:
    def on_button(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        try:
            if not first_click(rollbot, body, action):
                return
            incident_id = _value(action, "incident")
            if incident_id is None:
                ephemeral(respond, ":warning: This button does not say which incident it is for.")
                return
            actor = Actor(str(body["user"]["id"]), Via.SLACK)
            try:
                if what == "ack":
                    rollbot.incidents.acknowledge(incident_id, actor)
                else:
                    rollbot.incidents.resolve(incident_id, "", actor)
            except RollbotError as exc:
                ephemeral(respond, refusal_text(exc))
        except Exception:
            log.exception("incident button failed")
            ephemeral(respond, UNEXPECTED)

    return on_button


def _publish_button(rollbot: Rollbot) -> Listener:
    def on_publish(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        try:
            if not first_click(rollbot, body, action):
                return
            update_id = _value(action, "update")
            if update_id is None:
                return
            try:
                rollbot.incidents.publish_draft(
                    update_id, Actor(str(body["user"]["id"]), Via.SLACK)
                )
            except RollbotError as exc:
                ephemeral(respond, refusal_text(exc))
        except Exception:
            log.exception("publish button failed")
            ephemeral(respond, UNEXPECTED)

    return on_publish


def _edit_button(rollbot: Rollbot) -> Listener:
    def on_edit(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        ack()
        try:
            update_id = _value(action, "update")
            if update_id is None:
                return
            draft = rollbot.incidents.draft(update_id)
            if draft.state not in ("draft", "queued"):
                ephemeral(
                    respond, f":warning: That status update is {draft.state}; it cannot be edited."
                )
                return
            client.views_open(trigger_id=body["trigger_id"], view=edit_modal(draft))
        except Exception:
            log.exception("edit button failed")
            ephemeral(respond, UNEXPECTED)

    return on_edit


def _state(view: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    return dict(((view.get("state") or {}).get("values") or {}).get(block, {}).get(action) or {})


def _declare_submitted(rollbot: Rollbot) -> Listener:
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        title = str(_state(view, "title", "title").get("value") or "").strip()
        if not title:
            ack(response_action="errors", errors={"title": "Give the incident a title."})
            return
        ack()
        user = str(body["user"]["id"])
        try:
            if not rollbot.requests.first_time(f"slack:view:{view.get('id')}:{view.get('hash')}"):
                return
            severity = parse_severity(
                str(
                    (_state(view, "severity", "severity").get("selected_option") or {}).get("value")
                    or "sev3"
                )
            )
            impact_value = (_state(view, "impact", "impact").get("selected_option") or {}).get(
                "value"
            )
            raw = str(_state(view, "components", "components").get("value") or "")
            outcome = rollbot.incidents.declare(
                severity,
                title,
                Actor(user, Via.SLACK),
                impact=parse_impact(str(impact_value)) if impact_value else None,
                components=[c.strip() for c in raw.split(",") if c.strip()],
                origin_channel=str(view.get("private_metadata") or "") or None,
            )
            text = outcome.text
        except RollbotError as exc:
            text = refusal_text(exc)
        except Exception:
            log.exception("declare form failed")
            text = UNEXPECTED
        client.chat_postMessage(
            channel=client.conversations_open(users=user)["channel"]["id"], text=text
        )

    return on_submit


def _edit_submitted(rollbot: Rollbot) -> Listener:
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        message = str(_state(view, "message", "message").get("value") or "").strip()
        if not message:
            ack(response_action="errors", errors={"message": "A status update needs some text."})
            return
        ack()
        user = str(body["user"]["id"])
        try:
            rollbot.incidents.edit_draft(
                int(view.get("private_metadata") or 0), message, Actor(user, Via.SLACK)
            )
        except RollbotError as exc:
            client.chat_postMessage(
                channel=client.conversations_open(users=user)["channel"]["id"],
                text=refusal_text(exc),
            )
        except Exception:
            log.exception("edit form failed")

    return on_submit


def _pinned(rollbot: Rollbot) -> Listener:
    def on_pin(event: dict[str, Any]) -> None:
        try:
            item = event.get("item") or {}
            rollbot.incidents.pinned(
                str(item.get("channel")),
                str(item.get("ts")),
                Actor(str(event.get("user")), Via.SLACK),
            )
        except Exception:
            log.exception("pinning a message to the timeline failed")

    return on_pin
