"""What every incident collaborator shares: the database, the clock, the settings, the role
directory, the chat, the pager, the status pages and the templates.

One `IncidentContext` is built by `IncidentService` and handed to each collaborator at
construction; collaborators read it and never replace what is in it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bot.clock import Clock
from bot.config.incidents import IncidentsConfig
from bot.domain.contacts import ContactBook
from bot.domain.incident import Deadlines
from bot.domain.roles import RoleDirectory
from bot.services.incidents.ports import Pager, StatusPageProvider
from bot.services.incidents.templates import template_path
from bot.services.incidents.views import IncidentChat, NullIncidentChat
from bot.services.telemetry import NullTelemetry, Telemetry
from bot.store.database import Database

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class IncidentContext:
    """The dependencies and settings of the incident use cases, fixed at construction."""

    db: Database
    clock: Clock
    config: IncidentsConfig
    # The configured deadlines (the five minutes, the nudges, the post-mortem), read once.
    deadlines: Deadlines
    roles: RoleDirectory
    status_template: Path
    postmortem_template: Path
    chat: IncidentChat = field(default_factory=NullIncidentChat)
    pager: Pager | None = None
    # Primary first, then the fallbacks (the container's).
    status_pages: tuple[StatusPageProvider, ...] = ()
    # The emergency contacts of `contacts:` (`/oncall`, `/incident page <contact>`, cards).
    contacts: ContactBook = field(default_factory=ContactBook)
    # Where the time to the first status update is reported (rollbot's own metrics).
    telemetry: Telemetry = field(default_factory=NullTelemetry)

    @classmethod
    def build(
        cls,
        db: Database,
        clock: Clock,
        config: IncidentsConfig,
        roles: RoleDirectory | None,
        config_dir: Path,
        chat: IncidentChat,
        pager: Pager | None,
        status_pages: Sequence[StatusPageProvider] | None,
        contacts: ContactBook | None = None,
        telemetry: Telemetry | None = None,
    ) -> IncidentContext:
        """The context with the configured templates found relative to the config file."""
        return cls(
            db=db,
            clock=clock,
            config=config,
            deadlines=config.deadlines(),
            roles=roles or RoleDirectory(),
            status_template=template_path(
                config_dir, config.status_template, "status_update.md.j2"
            ),
            postmortem_template=template_path(
                config_dir, config.postmortem_template, "postmortem.md.j2"
            ),
            chat=chat,
            pager=pager,
            status_pages=tuple(status_pages or ()),
            contacts=contacts or ContactBook(),
            telemetry=telemetry or NullTelemetry(),
        )

    def safely(self, what: str, call: Callable[[], T]) -> T | None:
        """Run a chat or pager call; log a failure instead of undoing anything.

        Chat calls never undo a change: the card is brought up to date by the next one.
        """
        try:
            return call()
        except Exception as exc:
            log.warning("incident: could not %s: %s", what, exc)
            return None
