"""Emergency contacts: who is on call now, how to reach each contact, and paging one person
through PagerDuty (an incident assigned to them, not only the escalation policy).

Phones and emails are shown in private replies (`/oncall`) and private incident channels;
public channels see them only when `incidents.contact_details_in_public_channels` says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from bot.domain.contacts import Contact
from bot.domain.message import Code, Message
from bot.services.incidents.context import IncidentContext
from bot.services.incidents.events import ContactReach
from bot.services.incidents.ports import OnCall, PagedPerson, PagingError, PersonPage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContactNow:
    """A contact as it stands now: who holds it in chat, and who PagerDuty has on call."""

    contact: Contact
    holders: tuple[str, ...]
    group: str | None
    on_call: OnCall | None = None
    on_call_user: str | None = None  # the on-call engineer as a chat user, when known
    problem: str | None = None  # why PagerDuty could not be asked


@dataclass(frozen=True)
class PagerDutyPage:
    """What paging someone through PagerDuty did: the incident opened, or why not."""

    paged: PagedPerson | None
    why_not: str | None = None

    @property
    def incident_id(self) -> str | None:
        """The PagerDuty incident opened, if one was."""
        return self.paged.incident_id if self.paged is not None else None

    def said(self) -> Message:
        """A few words for the timeline entry (the reply is an event, worded apart)."""
        if self.paged is not None:
            return Message(" through PagerDuty (incident ", Code(self.paged.incident_id), ")")
        return Message(f" (not through PagerDuty: {self.why_not})") if self.why_not else Message()


@dataclass(frozen=True)
class Contacts:
    """The configured contacts, looked up and paged."""

    ctx: IncidentContext

    def now(self) -> list[ContactNow]:
        """Every contact, with PagerDuty asked who is on call for schedules and policies;
        when no contact is configured, the paging escalation policy's on-call engineer."""
        contacts = list(self.ctx.contacts.contacts)
        if not contacts and self.ctx.pager is not None:
            contacts = [Contact("on-call", "On-call engineer")]
        found: list[ContactNow] = []
        for contact in contacts:
            users, group = holders(self.ctx, contact)
            on_call, problem = self._on_call(contact)
            user = None
            if on_call is not None and on_call.email:
                user = self.ctx.safely(
                    "look up the on-call engineer",
                    partial(self.ctx.chat.user_by_email, on_call.email),
                )
            found.append(ContactNow(contact, users, group, on_call, user, problem))
        return found

    def _on_call(self, contact: Contact) -> tuple[OnCall | None, str | None]:
        pager = self.ctx.pager
        asks_pagerduty = contact.pagerduty_schedule or contact.pagerduty_escalation_policy
        if pager is None:
            return None, "PagerDuty is not configured" if asks_pagerduty else None
        try:
            if contact.pagerduty_schedule:
                return pager.on_call_for(schedule_id=contact.pagerduty_schedule), None
            if contact.pagerduty_escalation_policy:
                return pager.on_call_for(
                    escalation_policy_id=contact.pagerduty_escalation_policy
                ), None
            if not self.ctx.contacts.contacts:
                return pager.on_call(), None
        except PagingError as exc:
            log.warning("on-call lookup for %s failed: %s", contact.name, exc)
            return None, str(exc)
        return None, None

    def page(
        self,
        incident_key: str,
        title: str,
        details: str,
        *,
        contact: Contact | None = None,
        user: str | None = None,
    ) -> PagerDutyPage:
        """Page a contact or a chat user through PagerDuty, when it can be; never raises."""
        pager = self.ctx.pager
        if pager is None:
            if contact is not None and contact.pageable:
                return PagerDutyPage(None, "PagerDuty is not configured")
            return PagerDutyPage(None)
        if contact is None and user is not None:
            contact = self.ctx.contacts.of_user(user)
        try:
            pd_user, policy, why = self._target(contact, user)
            if pd_user is None and policy is None:
                return PagerDutyPage(None, why)
            key = f"{incident_key}-{pd_user or policy}"
            page = PersonPage(key, title, details, user_id=pd_user, escalation_policy_id=policy)
            return PagerDutyPage(pager.page_person(page))
        except PagingError as exc:
            log.warning("paging through PagerDuty failed: %s", exc)
            return PagerDutyPage(None, str(exc))

    def _target(
        self, contact: Contact | None, user: str | None
    ) -> tuple[str | None, str | None, str | None]:
        """The PagerDuty user or escalation policy to page, or why there is none (None: a
        contact reached in chat only). PagingError when PagerDuty cannot be asked."""
        pager = self.ctx.pager
        assert pager is not None
        if contact is not None:
            if contact.pagerduty_user:
                return contact.pagerduty_user, None, None
            if contact.pagerduty_escalation_policy:
                return None, contact.pagerduty_escalation_policy, None
            if contact.pagerduty_schedule:
                on_call = pager.on_call_for(schedule_id=contact.pagerduty_schedule)
                if on_call is None:
                    return None, None, "nobody is on call in its schedule"
                return on_call.pagerduty_user_id, None, None
            user = user or contact.slack_user
        if user is None:
            return None, None, None
        email = self.ctx.safely("look up a person's email", partial(self.ctx.chat.email_of, user))
        if not email:
            return None, None, "their email is not visible to rollbot"
        found = pager.user_by_email(email)
        return found, None, None if found else "no PagerDuty user has their email"


def holders(ctx: IncidentContext, contact: Contact) -> tuple[tuple[str, ...], str | None]:
    """The chat users holding a contact (its role's members, its Slack user) and the user
    group to mention."""
    role = ctx.roles.role(contact.role) if contact.role else None
    users = list(role.members) if role is not None else []
    if contact.slack_user and contact.slack_user not in users:
        users.append(contact.slack_user)
    group = contact.slack_group or (role.usergroup if role is not None else None)
    return tuple(users), group


def contact_lines(ctx: IncidentContext) -> list[ContactReach]:
    """One line per contact for the incident card: title, holders, group; phone and email
    only where the channel may show them (private channels, or when configured)."""
    show = ctx.config.private_channels or ctx.config.contact_details_in_public_channels
    lines = []
    for contact in ctx.contacts.contacts:
        users, group = holders(ctx, contact)
        lines.append(reach(contact, users, group, details=show))
    return lines


def reach(
    contact: Contact, users: tuple[str, ...], group: str | None, *, details: bool
) -> ContactReach:
    """How to reach a contact: who holds it, its group and, when allowed, phone and email."""
    return ContactReach(
        contact.title,
        contact.name,
        tuple(users),
        group or None,
        tuple(contact.details) if details else (),
    )
