"""Fakes of the incident providers: a status page that can be told to fail, a pager that
records PagerDuty Events API v2 payloads, and a chat that records what it was asked.

They satisfy the protocols in bot/services/incidents/ports.py and views.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.services.events import Said
from bot.services.incidents.ports import (
    OnCall,
    PagedPerson,
    PagingError,
    PersonPage,
    StatusPageError,
    StatusUpdate,
)
from bot.services.incidents.views import ChannelNameTaken, ChatMessage, DraftView, IncidentView
from bot.services.rollouts.notifier import CardLocation
from bot.slack.mrkdwn import mrkdwn
from bot.wording import words

ROUTING_KEY = "R0UTINGKEY0000000000000000000000"


class FakeStatusPage:
    """A status page: `fail_next(n)` makes the next n publications raise a 500-like error."""

    def __init__(self, name: str = "statuspage") -> None:
        self.name = name
        self.published: list[StatusUpdate] = []
        self.attempts: list[StatusUpdate] = []
        self._failures = 0
        self._down: tuple[Callable[[], datetime], datetime] | None = None
        self._lock = threading.Lock()

    def down(self, now: Callable[[], datetime], until: datetime) -> None:
        """Answer HTTP 503 while `now()` (rollbot's clock) is before `until`."""
        with self._lock:
            self._down = (now, until)

    def fail_next(self, times: int = 1) -> None:
        """Answer the next `times` publications with HTTP 500."""
        with self._lock:
            self._failures += times

    def recover(self) -> None:
        """The outage is over: answer every publication from now on."""
        with self._lock:
            self._failures = 0

    def check(self) -> str | None:
        """A fake has nothing to be asked."""
        return None

    def publish(self, update: StatusUpdate) -> str:
        """Record the update, or fail as scripted."""
        with self._lock:
            self.attempts.append(update)
            if self._down is not None and self._down[0]() < self._down[1]:
                raise StatusPageError(f"{self.name} answered HTTP 503")
            if self._failures:
                self._failures -= 1
                raise StatusPageError(f"{self.name} answered HTTP 500")
            self.published.append(update)
            return f"{self.name}-{len(self.published)}"


class FakePager:
    """Records every call as the Events API v2 body PagerDuty would receive."""

    def __init__(self, on_call: OnCall | None = None, fail_times: int = 0) -> None:
        self.on_call_person = on_call
        self.events: list[dict[str, Any]] = []
        self.fail_times = fail_times
        # Who is on call per schedule or escalation policy id, and PagerDuty users by email.
        self.rotas: dict[str, OnCall] = {}
        self.users: dict[str, str] = {}
        # Incidents opened by `page_person`: (key, title, user or policy).
        self.opened: list[tuple[str, str, str]] = []
        self.refused = 0
        self._down: tuple[Callable[[], datetime], datetime] | None = None

    def down(self, now: Callable[[], datetime], until: datetime) -> None:
        """Answer HTTP 503 while `now()` (rollbot's clock) is before `until`."""
        self._down = (now, until)

    def on_call(self) -> OnCall | None:
        """Who is on call (PagerDuty's REST API is down with its Events API)."""
        if self._down is not None and self._down[0]() < self._down[1]:
            self.refused += 1
            raise PagingError("PagerDuty answered HTTP 503")
        return self.on_call_person

    def on_call_for(
        self, *, schedule_id: str | None = None, escalation_policy_id: str | None = None
    ) -> OnCall | None:
        """Who is on call in that rota."""
        if self.fail_times:
            self.fail_times -= 1
            raise PagingError("PagerDuty: looking up who is on call failed: HTTP 503")
        return self.rotas.get(schedule_id or escalation_policy_id or "")

    def user_by_email(self, email: str) -> str | None:
        """The PagerDuty user with that email."""
        return self.users.get(email)

    def page_person(self, page: PersonPage) -> PagedPerson:
        """Open an incident assigned to the user or policy."""
        if self.fail_times:
            self.fail_times -= 1
            raise PagingError("PagerDuty: opening an incident failed: HTTP 503")
        target = page.user_id or page.escalation_policy_id or ""
        self.opened.append((page.incident_key, page.title, target))
        return PagedPerson(f"Q{len(self.opened):04d}", None)

    def _send(self, body: dict[str, Any]) -> None:
        if self._down is not None and self._down[0]() < self._down[1]:
            self.refused += 1
            raise PagingError("PagerDuty answered HTTP 503")
        if self.fail_times:
            self.fail_times -= 1
            raise PagingError("PagerDuty answered HTTP 503")
        self.events.append({"routing_key": ROUTING_KEY, **body})

    def trigger(
        self, dedup_key: str, summary: str, source: str, severity: str, details: dict[str, object]
    ) -> None:
        """An Events v2 trigger."""
        self._send(
            {
                "event_action": "trigger",
                "dedup_key": dedup_key,
                "payload": {
                    "summary": summary,
                    "source": source,
                    "severity": severity,
                    "custom_details": details,
                },
            }
        )

    def acknowledge(self, dedup_key: str) -> None:
        """An Events v2 acknowledge."""
        self._send({"event_action": "acknowledge", "dedup_key": dedup_key})

    def resolve(self, dedup_key: str) -> None:
        """An Events v2 resolve."""
        self._send({"event_action": "resolve", "dedup_key": dedup_key})


@dataclass
class RecordingChat:
    """An IncidentChat keeping everything in lists (integration tests without Slack)."""

    channels: dict[str, str] = field(default_factory=dict)  # name -> id
    invites: list[tuple[str, list[str]]] = field(default_factory=list)
    cards: list[IncidentView] = field(default_factory=list)
    # What was posted and sent, as Slack would show it (mrkdwn).
    posts: list[tuple[str | None, str]] = field(default_factory=list)
    directs: list[tuple[str, str]] = field(default_factory=list)
    drafts: list[tuple[str, DraftView]] = field(default_factory=list)
    uploads: list[tuple[str | None, str, str]] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)  # email -> user id
    names: dict[str, str] = field(default_factory=dict)  # user id -> real name
    messages: dict[tuple[str, str], ChatMessage] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)

    def create_channel(self, name: str, private: bool) -> str | None:
        if name in self.taken or name in self.channels:
            raise ChannelNameTaken(name)
        self.channels[name] = f"C{len(self.channels) + 100:08d}"
        return self.channels[name]

    def invite(self, channel_id: str, user_ids: list[str]) -> None:
        self.invites.append((channel_id, list(user_ids)))

    def show_card(self, view: IncidentView) -> CardLocation | None:
        self.cards.append(view)
        if view.channel_id is None:
            return None
        return CardLocation(view.channel_id, view.card_ts or f"{len(self.cards)}.000100")

    def post(self, channel_id: str | None, message: Said) -> None:
        self.posts.append((channel_id, mrkdwn(words(message))))

    def direct(self, user_id: str, message: Said) -> None:
        self.directs.append((user_id, mrkdwn(words(message))))

    def show_draft(self, user_id: str, draft: DraftView) -> CardLocation | None:
        self.drafts.append((user_id, draft))
        return CardLocation(f"D{user_id[1:]}", draft.dm_ts or f"{len(self.drafts)}.000200")

    def upload(self, channel_id: str | None, filename: str, content: str, title: str) -> str | None:
        self.uploads.append((channel_id, filename, content))
        return f"F{len(self.uploads):08d}"

    def user_by_email(self, email: str) -> str | None:
        return self.users.get(email)

    def email_of(self, user_id: str) -> str | None:
        return next((e for e, u in self.users.items() if u == user_id), None)

    def display_name(self, user_id: str) -> str | None:
        return self.names.get(user_id)

    def message(self, channel_id: str, ts: str) -> ChatMessage | None:
        return self.messages.get((channel_id, ts))

    def said(self) -> str:
        """Everything posted and sent directly, for assertions."""
        return "\n".join([t for _, t in self.posts] + [t for _, t in self.directs])


def message(text: str, author: str, at: datetime, permalink: str | None = None) -> ChatMessage:
    """A chat message for RecordingChat.messages."""
    return ChatMessage(text, author, at, permalink)
