"""The `contacts:` config section: the emergency contacts of the plan's Appendix C."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from bot.domain.contacts import Contact, ContactBook


def _contacts_error(message: str) -> PydanticCustomError:
    # Its own error type, so the hint points at the contacts section.
    return PydanticCustomError("contacts", message)


class ContactConfig(BaseModel):
    """One contact: how to page them and how to reach them by hand."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    title: str = Field(min_length=1, max_length=80)
    role: str | None = None
    pagerduty_user: str | None = Field(default=None, pattern=r"^P[A-Z0-9]{3,}$")
    pagerduty_schedule: str | None = Field(default=None, pattern=r"^P[A-Z0-9]{3,}$")
    pagerduty_escalation_policy: str | None = Field(default=None, pattern=r"^P[A-Z0-9]{3,}$")
    slack_user: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]+$")
    slack_group: str | None = Field(default=None, pattern=r"^S[A-Z0-9]+$")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9X][0-9X ()./-]{2,30}$")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")

    @model_validator(mode="after")
    def _one_pagerduty_target(self) -> ContactConfig:
        targets = [
            t
            for t in (
                self.pagerduty_user,
                self.pagerduty_schedule,
                self.pagerduty_escalation_policy,
            )
            if t
        ]
        if len(targets) > 1:
            raise _contacts_error(
                "give at most one of pagerduty_user, pagerduty_schedule and "
                "pagerduty_escalation_policy"
            )
        reachable = (
            targets or self.role or self.slack_user or self.slack_group or self.phone or self.email
        )
        if not reachable:
            raise _contacts_error(
                f"contact {self.name!r} has no way to reach it: give a role, a PagerDuty "
                "user, schedule or escalation policy, a Slack user or group, a phone or an email"
            )
        return self

    def contact(self) -> Contact:
        """The contact as the domain sees it."""
        return Contact(**self.model_dump())


def contact_book(contacts: list[ContactConfig]) -> ContactBook:
    """The configured contacts as the domain sees them."""
    return ContactBook(tuple(c.contact() for c in contacts))


def unique_names(contacts: list[ContactConfig]) -> None:
    """Refuse two contacts with one name (raises ValueError naming it)."""
    seen: set[str] = set()
    for c in contacts:
        if c.name in seen:
            raise ValueError(f"contacts: two contacts are called {c.name!r}; names must differ")
        seen.add(c.name)
