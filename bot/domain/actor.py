"""Who did something and through which door."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.message import Mention, Part


class Via(StrEnum):
    """The door a change came through; recorded on every audit event."""

    SLACK = "slack"
    SHELL = "shell"
    API = "api"
    SCHEDULER = "scheduler"


@dataclass(frozen=True)
class Actor:
    """A person (Slack user id, shell name, API token holder) or rollbot itself."""

    id: str
    via: Via

    @property
    def named(self) -> Part:
        """The actor in a message: a `Mention` of a Slack user, the name of anyone else."""
        if self.via is Via.SLACK and self.id.startswith(("U", "W")):
            return Mention(self.id)
        return self.id


SCHEDULER = Actor("rollbot", Via.SCHEDULER)
