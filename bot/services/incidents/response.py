"""Working an open incident: acknowledgement, notes, pinned messages, escalation and status
changes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

from bot.domain.actor import Actor
from bot.domain.errors import InvalidTransition, RollbotError
from bot.domain.incident import EventKind, Status
from bot.domain.message import Code, Mention, Message, Part, Strong, person
from bot.services.incidents.card import IncidentCard
from bot.services.incidents.contacts import Contacts, PagerDutyPage, holders
from bot.services.incidents.context import IncidentContext
from bot.services.incidents.due_work import NUDGE, PAGE_ACK, DueWork
from bot.services.incidents.events import (
    GroupNeeded,
    IncidentAcknowledged,
    IncidentPaged,
    NeededInIncident,
    NoteAdded,
    StatusChanged,
)
from bot.services.incidents.status_updates import StatusUpdates
from bot.services.incidents.views import IncidentOutcome
from bot.store import incidents as store
from bot.store.incident_models import IncidentRow

MAX_NOTE = 3000
_USER = re.compile(r"^[UW][A-Z0-9_]{2,}$")


@dataclass(frozen=True)
class Response:
    """The commands used while an incident is open."""

    ctx: IncidentContext
    card: IncidentCard
    status_updates: StatusUpdates
    due_work: DueWork
    contacts: Contacts

    def _active_in(self, channel_id: str | None, command: str) -> IncidentRow:
        with self.ctx.db.session() as s:
            row = self.card.in_channel(s, channel_id, command)
        if row.state != store.ACTIVE:
            raise InvalidTransition(
                Message(Strong(row.title), " is already resolved."),
                Message(
                    "Declare a new incident with ", Code("/incident declare <sev> <title>"), "."
                ),
            )
        return row

    def acknowledge(
        self, incident_id: int, actor: Actor, via_pager: bool = False
    ) -> IncidentOutcome:
        """Someone took it: stop the page from escalating."""
        now = self.ctx.clock.now()
        with self.ctx.db.session() as s:
            row = store.by_id(s, incident_id, for_update=True)
            if row is None or row.state != store.ACTIVE:
                raise InvalidTransition("That incident is not open.")
            if row.acknowledged_at is not None:
                raise InvalidTransition(
                    Message(
                        Strong(row.title),
                        f" was already acknowledged at {row.acknowledged_at:%H:%M:%S} UTC.",
                    )
                )
            row.acknowledged_at = now
            row.version += 1
            store.save(s, row)
            where = " in PagerDuty" if via_pager else ""
            self.card.record(
                incident_id,
                EventKind.ACKNOWLEDGED,
                Message(actor.named, f" acknowledged{where}."),
                actor.id,
                session=s,
            )
            if row.paged and not via_pager:
                store.schedule(s, incident_id, PAGE_ACK, now)
        self.due_work.run_due_for(incident_id)
        view = self.card.refresh(incident_id)
        return IncidentOutcome(view, IncidentAcknowledged(actor, view.title))

    def note(self, channel_id: str | None, text: str, actor: Actor) -> IncidentOutcome:
        """Add a note to the timeline."""
        text = text.strip()
        if not text:
            raise RollbotError(
                Message(Code("/incident note"), " needs some text."),
                Message("Example: ", Code("/incident note restarted api-7"), "."),
            )
        with self.ctx.db.session() as s:
            row = self.card.in_channel(s, channel_id, "note")
            assert row.id is not None
            self.card.record(row.id, EventKind.NOTE, text[:MAX_NOTE], actor.id, session=s)
        return IncidentOutcome(self.card.view(row.id), NoteAdded())

    def pinned(self, channel_id: str, ts: str, actor: Actor) -> bool:
        """A message in an incident channel got :pushpin:: put it on the timeline (once)."""
        with self.ctx.db.session() as s:
            row = store.by_channel(s, channel_id)
        if row is None or row.id is None:
            return False
        message = self.ctx.safely(
            "read the pinned message", lambda: self.ctx.chat.message(channel_id, ts)
        )
        if message is None:
            return False
        author = person(message.author)
        # The whole entry, author included, stays within a note's length.
        room = MAX_NOTE - len(Message(author).plain())
        text = Message(author, f": {message.text}"[: max(0, room)])
        added = self.card.record(
            row.id,
            EventKind.PINNED,
            text,
            actor.id,
            message.permalink,
            dedupe=f"pin:{ts}",
            at=message.at,
        )
        if added:
            self.card.refresh(row.id)
        return added

    def escalate(self, channel_id: str | None, target: str, actor: Actor) -> IncidentOutcome:
        """`/incident page <role, contact or user>`: bring someone in (invite and message
        them), and page a contact or person through PagerDuty (an incident assigned to
        them) when PagerDuty knows them. `target` is a role id, a contact name or a chat
        user id."""
        row = self._active_in(channel_id, "page")
        assert row.id is not None
        target = target.strip()
        role = self.ctx.roles.role(target.lower())
        contact = None if role is not None else self.ctx.contacts.find(target)
        users: list[str]
        who: str
        group: str | None = None
        if role is not None:
            users, who, group = list(role.members), role.name, role.usergroup
            if not users and not group:
                raise RollbotError(
                    f"Nobody holds the role {role.name}.", "Add members in the config."
                )
        elif contact is not None:
            held, group = holders(self.ctx, contact)
            users, who = list(held), contact.title
        else:
            if _USER.match(target) is None:
                raise self._unknown_target(target)
            users = [target]
            who = target
        is_person = role is None and contact is None
        named: Part = Mention(who) if is_person else who
        view = self.card.view(row.id)
        channel = view.channel_id
        page = (
            self.contacts.page(
                f"rollbot-{view.key}",
                f"[{view.severity.upper()}] {view.title}",
                f"{actor.id} needs you in rollbot incident {view.key}"
                + (f" (#{view.channel_name})" if view.channel_name else ""),
                contact=contact,
                user=users[0] if contact is None and users else None,
            )
            if role is None
            else PagerDutyPage(None)
        )
        if channel and users:
            self.ctx.safely("invite the paged people", lambda: self.ctx.chat.invite(channel, users))
        text = NeededInIncident(actor, view.title, view.severity, channel)
        for user in users:
            self.ctx.safely("page a person", partial(self.ctx.chat.direct, user, text))
        if group and channel:
            # A role held through a Slack user group: mention the group in the channel.
            self.card.tell(view, GroupNeeded(group, who, is_person))
        self.card.record(
            row.id,
            EventKind.PAGED,
            Message(actor.named, " paged ", named, page.said(), "."),
            actor.id,
        )
        return IncidentOutcome(
            self.card.refresh(row.id),
            IncidentPaged(who, is_person, page.incident_id, page.why_not),
        )

    def _unknown_target(self, target: str) -> RollbotError:
        roles = sorted(self.ctx.roles.roles)
        contacts = self.ctx.contacts.names
        known = Message.join(", ", (Code(r) for r in [*roles, *contacts]))
        return RollbotError(
            Message(Code(target), " is neither a role, a contact nor a person."),
            Message(
                "Name a role or contact (",
                known if roles or contacts else "none configured",
                ") or mention someone: ",
                Code("/incident page @name"),
                ".",
            ),
        )

    def change_status(
        self, channel_id: str | None, status: Status, message: str, actor: Actor
    ) -> IncidentOutcome:
        """`/incident update <status> <message>`: change the status and publish it."""
        message = " ".join(message.split())
        if not message:
            raise RollbotError(
                "A status update needs a message.",
                Message(
                    "Example: ",
                    Code(f"/incident update {status.value} Error rates are back to normal."),
                ),
            )
        row = self._active_in(channel_id, "update")
        assert row.id is not None
        now = self.ctx.clock.now()
        with self.ctx.db.session() as s:
            locked = store.by_id(s, row.id, for_update=True)
            assert locked is not None and locked.id is not None
            if locked.state != store.ACTIVE:  # resolved since the check above
                raise InvalidTransition(Message(Strong(locked.title), " was just resolved."))
            before = locked.status
            locked.status = status.value
            locked.version += 1
            store.save(s, locked)
            self.card.record(
                locked.id,
                EventKind.STATUS_CHANGED,
                f"{status.value} (was {before}): {message}",
                actor.id,
                session=s,
            )
            if status is not Status.INVESTIGATING and locked.acknowledged_at is None:
                locked.acknowledged_at = now
                self.card.record(
                    locked.id,
                    EventKind.ACKNOWLEDGED,
                    Message(actor.named, f" acknowledged (by moving to {status.value})."),
                    actor.id,
                    session=s,
                )
                if locked.paged:
                    store.schedule(s, locked.id, PAGE_ACK, now)
            update, stale_dms = self.status_updates.queue_update(
                s, locked, status.value, message, actor
            )
            store.cancel(s, locked.id, NUDGE, now)
            update_id = update.id
        assert update_id is not None
        self.due_work.run_due_for(row.id)
        published = self.status_updates.publish_one(update_id)
        for stale in stale_dms:
            self.status_updates.show_draft(stale)
        view = self.card.refresh(row.id)
        return IncidentOutcome(view, StatusChanged(status.value, published))
