"""What an incident looks like to people, and the chat interface incident services talk to.

The view is computed once from the stored incident (plus its updates and post-mortem) and
rendered by each chat adapter: Slack blocks, shell text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.domain.actions import Action, Emphasis
from bot.domain.incident import Deadlines, postmortem_overdue
from bot.services.events import Said
from bot.services.incidents.events import ContactReach
from bot.services.rollouts.notifier import CardLocation
from bot.services.rollouts.views import Button
from bot.store.incident_models import IncidentRow, IncidentStatusUpdateRow, PostmortemRow


@dataclass(frozen=True)
class DraftView:
    """A status update waiting for the commander's Publish (or the automatic publication)."""

    id: int
    incident_id: int
    incident_title: str
    status: str
    message: str
    impact: str
    components: list[str]
    state: str
    auto_publish_at: datetime | None
    deadline_at: datetime | None
    dm_channel: str | None
    dm_ts: str | None
    published_at: datetime | None
    provider_used: str | None

    def button_value(self) -> str:
        """What the Publish and Edit buttons carry."""
        return json.dumps({"update": self.id})


@dataclass(frozen=True)
class IncidentView:
    """Everything the incident card shows."""

    id: int
    key: str
    title: str
    severity: str
    status: str
    state: str
    impact: str
    components: list[str]
    commander: str | None
    declared_by: str
    declared_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    last_update_at: datetime | None
    next_update_due: datetime | None
    status_deadline: datetime
    channel_id: str | None
    channel_name: str | None
    card_ts: str | None
    source: str
    rollout_id: int | None
    summary: str | None
    postmortem_due: datetime | None
    postmortem_done: bool
    postmortem_overdue: bool
    version: int
    buttons: list[Button] = field(default_factory=list)
    # How to reach each emergency contact (phones and emails only where allowed).
    contacts: list[ContactReach] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """True until resolved."""
        return self.state == "active"


@dataclass(frozen=True)
class IncidentOutcome:
    """What a change did: the incident as it is now, and what happened (an event the chat
    words for the reply)."""

    view: IncidentView
    text: Said


def draft_view(row: IncidentStatusUpdateRow, incident: IncidentRow) -> DraftView:
    """The DM view of a status update."""
    assert row.id is not None and incident.id is not None
    return DraftView(
        id=row.id,
        incident_id=incident.id,
        incident_title=incident.title,
        status=row.status,
        message=row.message,
        impact=row.impact,
        components=list(row.components),
        state=row.state,
        auto_publish_at=row.next_attempt_at if row.state == "draft" else None,
        deadline_at=row.deadline_at,
        dm_channel=row.dm_channel,
        dm_ts=row.dm_ts,
        published_at=row.published_at,
        provider_used=row.provider_used,
    )


def build_incident_view(
    row: IncidentRow, pm: PostmortemRow | None, deadlines: Deadlines, now: datetime
) -> IncidentView:
    """The card data of a stored incident at time `now`."""
    assert row.id is not None
    active = row.state == "active"
    next_due = None
    if active:
        next_due = (
            deadlines.next_nudge(row.last_update_at)
            if row.last_update_at
            else deadlines.status_due(row.declared_at)
        )
    buttons: list[Button] = []
    value = json.dumps({"incident": row.id})
    if active and row.acknowledged_at is None:
        buttons.append(Button("Acknowledge", Action.ACKNOWLEDGE, value, Emphasis.CONFIRM))
    if active:
        buttons.append(Button("Resolve", Action.RESOLVE, value, Emphasis.DESTRUCTIVE))
    return IncidentView(
        id=row.id,
        key=row.key,
        title=row.title,
        severity=row.severity,
        status=row.status,
        state=row.state,
        impact=row.impact,
        components=list(row.components),
        commander=row.commander,
        declared_by=row.declared_by,
        declared_at=row.declared_at,
        acknowledged_at=row.acknowledged_at,
        resolved_at=row.resolved_at,
        last_update_at=row.last_update_at,
        next_update_due=next_due,
        status_deadline=deadlines.status_due(row.declared_at),
        channel_id=row.channel_id,
        channel_name=row.channel_name,
        card_ts=row.card_ts,
        source=row.source,
        rollout_id=row.rollout_id,
        summary=row.summary,
        postmortem_due=pm.due_at if pm else None,
        postmortem_done=bool(pm and pm.done_at),
        postmortem_overdue=pm is not None and postmortem_overdue(pm.due_at, bool(pm.done_at), now),
        version=row.version,
        buttons=buttons,
    )


@dataclass(frozen=True)
class ChatMessage:
    """A message someone pinned: what it said, who wrote it, when, and its permalink."""

    text: str
    author: str
    at: datetime
    permalink: str | None


class ChannelNameTaken(Exception):
    """The chat already has a channel with that name."""


class IncidentChat(Protocol):
    """What incident services need from a chat (Slack, the shell, nothing)."""

    def create_channel(self, name: str, private: bool) -> str | None:
        """Create the incident channel; its id (None when the chat has no channels).
        Raises ChannelNameTaken when the name is in use."""
        ...

    def invite(self, channel_id: str, user_ids: list[str]) -> None:
        """Invite people to the channel (already being there is fine)."""
        ...

    def show_card(self, view: IncidentView) -> CardLocation | None:
        """Post and pin the card the first time, edit it in place after."""
        ...

    def post(self, channel_id: str | None, message: Said) -> None:
        """Post a message in the incident channel."""
        ...

    def direct(self, user_id: str, message: Said) -> None:
        """Send someone a direct message."""
        ...

    def show_draft(self, user_id: str, draft: DraftView) -> CardLocation | None:
        """DM the draft with Publish / Edit buttons, or edit that DM in place."""
        ...

    def upload(self, channel_id: str | None, filename: str, content: str, title: str) -> str | None:
        """Upload a file to the channel; its id."""
        ...

    def user_by_email(self, email: str) -> str | None:
        """The chat user with this email address."""
        ...

    def email_of(self, user_id: str) -> str | None:
        """A chat user's email address (to find them in PagerDuty), when the chat knows it."""
        ...

    def display_name(self, user_id: str) -> str | None:
        """A chat user's name as people know it (for files such as post-mortems)."""
        ...

    def message(self, channel_id: str, ts: str) -> ChatMessage | None:
        """One message of a channel (for pinned messages)."""
        ...


class NullIncidentChat:
    """No chat connected: incidents still run (deadlines, status pages, pager)."""

    def create_channel(self, name: str, private: bool) -> str | None:
        """No channels."""
        return None

    def invite(self, channel_id: str, user_ids: list[str]) -> None:
        """Nobody to invite."""

    def show_card(self, view: IncidentView) -> CardLocation | None:
        """Nothing to show."""
        return None

    def post(self, channel_id: str | None, message: Said) -> None:
        """Nowhere to post."""

    def direct(self, user_id: str, message: Said) -> None:
        """Nobody to tell."""

    def show_draft(self, user_id: str, draft: DraftView) -> CardLocation | None:
        """Nobody to ask: the draft is published automatically."""
        return None

    def upload(self, channel_id: str | None, filename: str, content: str, title: str) -> str | None:
        """Kept in the database only."""
        return None

    def user_by_email(self, email: str) -> str | None:
        """No users."""
        return None

    def email_of(self, user_id: str) -> str | None:
        """No users."""
        return None

    def display_name(self, user_id: str) -> str | None:
        """No users."""
        return None

    def message(self, channel_id: str, ts: str) -> ChatMessage | None:
        """No messages."""
        return None
