"""Emergency contacts (the plan's Appendix C): who to reach when something breaks, and how.

Pure data: a contact names a role and a way to page (a PagerDuty user, schedule or
escalation policy) and carries the details people call or write to. Whether those details
may be shown where is decided by the caller (they are never posted in public channels
unless the config says so).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Contact:
    """One emergency contact: a person, a rota or a team."""

    name: str  # what commands call it: `/incident page platform-lead`
    title: str  # what people read: "Platform Lead"
    role: str | None = None  # a role of `roles:` whose holders are this contact
    pagerduty_user: str | None = None
    pagerduty_schedule: str | None = None
    pagerduty_escalation_policy: str | None = None
    slack_user: str | None = None
    slack_group: str | None = None
    phone: str | None = None
    email: str | None = None

    @property
    def pageable(self) -> bool:
        """True when PagerDuty can be asked to page this contact."""
        return bool(
            self.pagerduty_user or self.pagerduty_schedule or self.pagerduty_escalation_policy
        )

    @property
    def details(self) -> tuple[str, ...]:
        """Phone and email, the details kept out of public channels."""
        return tuple(d for d in (self.phone, self.email) if d)


@dataclass(frozen=True)
class ContactBook:
    """Every configured contact, in config order."""

    contacts: tuple[Contact, ...] = ()

    def find(self, name: str) -> Contact | None:
        """The contact called `name` (case does not matter), or None."""
        wanted = name.strip().lower()
        return next((c for c in self.contacts if c.name == wanted), None)

    def of_user(self, user_id: str) -> Contact | None:
        """The contact that is this chat user, or None."""
        return next((c for c in self.contacts if c.slack_user == user_id), None)

    @property
    def names(self) -> list[str]:
        """The contacts' names, for hints."""
        return [c.name for c in self.contacts]
