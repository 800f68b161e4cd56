"""Working an open incident: acknowledgement, notes, pinned messages, escalation, status
changes, and reading incidents and timelines."""

from __future__ import annotations

import re
from functools import partial

from bot.domain.actor import Actor
from bot.domain.errors import InvalidTransition, RollbotError
from bot.domain.incident import EventKind, Status, TimelineEvent
from bot.services.incidents.context import IncidentOutcome
from bot.services.incidents.declare import IncidentDeclare, is_chat_user
from bot.services.incidents.due_work import NUDGE, PAGE_ACK
from bot.services.incidents.views import IncidentView
from bot.store import incidents as store
from bot.store.incident_models import IncidentRow

MAX_NOTE = 3000
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^([UW][A-Z0-9]{2,})$")


class IncidentWork(IncidentDeclare):
    """The commands used while an incident is open."""

    # -- while it is open ------------------------------------------------------------------

    def _active_in(self, channel_id: str | None, command: str) -> IncidentRow:
        with self.db.session() as s:
            row = self.in_channel(s, channel_id, command)
        if row.state != store.ACTIVE:
            raise InvalidTransition(
                f"*{row.title}* is already resolved.",
                "Declare a new incident with `/incident declare <sev> <title>`.",
            )
        return row

    def acknowledge(
        self, incident_id: int, actor: Actor, via_pager: bool = False
    ) -> IncidentOutcome:
        """Someone took it: stop the page from escalating."""
        now = self.clock.now()
        with self.db.session() as s:
            row = store.by_id(s, incident_id, for_update=True)
            if row is None or row.state != store.ACTIVE:
                raise InvalidTransition("That incident is not open.")
            if row.acknowledged_at is not None:
                raise InvalidTransition(
                    f"*{row.title}* was already acknowledged at {row.acknowledged_at:%H:%M:%S} UTC."
                )
            row.acknowledged_at = now
            row.version += 1
            s.add(row)
            where = " in PagerDuty" if via_pager else ""
            self.record(
                incident_id,
                EventKind.ACKNOWLEDGED,
                f"{actor.mention} acknowledged{where}.",
                actor.id,
                session=s,
            )
            if row.paged and not via_pager:
                store.schedule(s, incident_id, PAGE_ACK, now)
        self.run_due_for(incident_id)
        view = self.refresh(incident_id)
        return IncidentOutcome(view, f"{actor.mention} acknowledged *{view.title}*.")

    def run_due_for(self, incident_id: int) -> None:
        """Run an incident's pager jobs that are due now (right after the change)."""
        now = self.clock.now()
        with self.db.session() as s:
            jobs = [
                j.id
                for j in store.pending_jobs(s, incident_id)
                if j.due_at <= now and j.kind.startswith("page") and j.id is not None
            ]
        for job_id in jobs:
            assert job_id is not None
            self.run_job(job_id)

    def note(self, channel_id: str | None, text: str, actor: Actor) -> IncidentOutcome:
        """Add a note to the timeline."""
        text = text.strip()
        if not text:
            raise RollbotError(
                "`/incident note` needs some text.", "Example: `/incident note restarted api-7`."
            )
        with self.db.session() as s:
            row = self.in_channel(s, channel_id, "note")
            assert row.id is not None
            self.record(row.id, EventKind.NOTE, text[:MAX_NOTE], actor.id, session=s)
        return IncidentOutcome(self.view(row.id), "Added to the timeline.")

    def pinned(self, channel_id: str, ts: str, actor: Actor) -> bool:
        """A message in an incident channel got :pushpin:: put it on the timeline (once)."""
        with self.db.session() as s:
            row = store.by_channel(s, channel_id)
        if row is None or row.id is None:
            return False
        message = self.safely("read the pinned message", lambda: self.chat.message(channel_id, ts))
        if message is None:
            return False
        author = f"<@{message.author}>" if is_chat_user(message.author) else message.author
        text = f"{author}: {message.text}"[:MAX_NOTE]
        added = self.record(
            row.id,
            EventKind.PINNED,
            text,
            actor.id,
            message.permalink,
            dedupe=f"pin:{ts}",
            at=message.at,
        )
        if added:
            self.refresh(row.id)
        return added

    def escalate(self, channel_id: str | None, target: str, actor: Actor) -> IncidentOutcome:
        """`/incident page <role or user>`: bring someone in (invite and message them)."""
        row = self._active_in(channel_id, "page")
        assert row.id is not None
        target = target.strip()
        role = self.roles.role(target.lower())
        users: list[str]
        group: str | None = None
        if role is not None:
            users, who, group = list(role.members), role.name, role.usergroup
            if not users and not group:
                raise RollbotError(
                    f"Nobody holds the role {role.name}.", "Add members in the config."
                )
        else:
            match = _USER.match(target)
            if match is None:
                known = ", ".join(f"`{r}`" for r in sorted(self.roles.roles)) or "none configured"
                raise RollbotError(
                    f"`{target}` is neither a role nor a person.",
                    f"Name a role ({known}) or mention someone: `/incident page @name`.",
                )
            users = [match.group(1) or match.group(2)]
            who = f"<@{users[0]}>"
        view = self.view(row.id)
        channel = view.channel_id
        if channel and users:
            self.safely("invite the paged people", lambda: self.chat.invite(channel, users))
        where = f": <#{channel}>" if channel else "."
        text = (
            f":rotating_light: {actor.mention} needs you in incident *{view.title}* "
            f"({view.severity.upper()}){where}"
        )
        for user in users:
            self.safely("page a person", partial(self.chat.direct, user, text))
        if group and channel:
            # A role held through a Slack user group: mention the group in the channel.
            self.tell(view, f":rotating_light: <!subteam^{group}> {who} is needed here.")
        self.record(row.id, EventKind.PAGED, f"{actor.mention} paged {who}.", actor.id)
        return IncidentOutcome(self.refresh(row.id), f"Paged {who}.")

    def change_status(
        self, channel_id: str | None, status: Status, message: str, actor: Actor
    ) -> IncidentOutcome:
        """`/incident update <status> <message>`: change the status and publish it."""
        message = " ".join(message.split())
        if not message:
            raise RollbotError(
                "A status update needs a message.",
                f"Example: `/incident update {status.value} Error rates are back to normal.`",
            )
        row = self._active_in(channel_id, "update")
        assert row.id is not None
        now = self.clock.now()
        with self.db.session() as s:
            locked = store.by_id(s, row.id, for_update=True)
            assert locked is not None and locked.id is not None
            if locked.state != store.ACTIVE:  # resolved since the check above
                raise InvalidTransition(f"*{locked.title}* was just resolved.")
            before = locked.status
            locked.status = status.value
            locked.version += 1
            s.add(locked)
            self.record(
                locked.id,
                EventKind.STATUS_CHANGED,
                f"{status.value} (was {before}): {message}",
                actor.id,
                session=s,
            )
            if status is not Status.INVESTIGATING and locked.acknowledged_at is None:
                locked.acknowledged_at = now
                self.record(
                    locked.id,
                    EventKind.ACKNOWLEDGED,
                    f"{actor.mention} acknowledged (by moving to {status.value}).",
                    actor.id,
                    session=s,
                )
                if locked.paged:
                    store.schedule(s, locked.id, PAGE_ACK, now)
            update, stale_dms = self.queue_update(s, locked, status.value, message, actor)
            store.cancel(s, locked.id, NUDGE, now)
            update_id = update.id
        assert update_id is not None
        self.run_due_for(row.id)
        published = self.publish_one(update_id)
        for stale in stale_dms:
            self.show_draft(stale)
        view = self.refresh(row.id)
        tail = "published" if published else "queued (the status page did not answer; retrying)"
        return IncidentOutcome(view, f"Status is now *{status.value}*; update {tail}.")

    # -- reading ---------------------------------------------------------------------------

    def incidents(self) -> list[IncidentView]:
        """Open incidents, then recent resolved ones."""
        with self.db.session() as s:
            return [self._build(s, r) for r in store.listing(s)]

    def in_channel_view(self, channel_id: str | None, command: str) -> IncidentView:
        """The view of this channel's incident (RollbotError outside one)."""
        with self.db.session() as s:
            return self._build(s, self.in_channel(s, channel_id, command))

    def timeline_of(self, channel_id: str | None) -> tuple[IncidentView, list[TimelineEvent]]:
        """This channel's incident and its timeline."""
        with self.db.session() as s:
            row = self.in_channel(s, channel_id, "timeline")
            assert row.id is not None
            return self._build(s, row), store.timeline(s, row.id)
