"""How the sign-off service reaches people: direct messages with Approve / Reject, edits of
those messages when they go stale, and plain messages (requester told, escalations).

Chat adapters implement `SignoffNotifier` (Slack: bot/slack/signoff_notifier.py, the shell:
bot/shell/signoff_notifier.py). Failures raise; the caller retries later.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

from bot.domain.ids import record_id
from bot.services.events import Event, Said
from bot.services.signoff.events import ChainState, MetricReading, OpenChecklist

log = logging.getLogger(__name__)

ANY_ROLE = "*"  # a card's Reject button: whichever role still to sign the clicker holds


class AskStage(StrEnum):
    """Which ask of a role this is: the first, a reminder, or an escalation."""

    ASK = "ask"
    REMINDER = "reminder"
    ESCALATION = "escalation"


MessageRef = dict[str, str]
"""Where a sent message is: {"channel": ..., "ts": ...}."""


@dataclass(frozen=True)
class SignButton:
    """What an Approve / Reject button carries: the rollout, the visit of its step (the
    step index and when the step was entered, in ms) and the role asked."""

    rollout: int
    step: int
    visit: int
    role: str

    def dumps(self) -> str:
        """The button value."""
        return json.dumps(
            {"rollout": self.rollout, "step": self.step, "visit": self.visit, "role": self.role}
        )

    @staticmethod
    def loads(value: str) -> SignButton | None:
        """Parse a button value; None when it is not one of ours."""
        try:
            data = json.loads(value)
            return SignButton(
                record_id(data["rollout"]),
                record_id(data["step"]),
                record_id(data["visit"]),
                str(data["role"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class CheckButton:
    """What a checklist item's Check button carries."""

    rollout: int
    checklist: str
    index: int

    def dumps(self) -> str:
        """The button value."""
        return json.dumps(
            {"rollout": self.rollout, "checklist": self.checklist, "item": self.index}
        )

    @staticmethod
    def loads(value: str) -> CheckButton | None:
        """Parse a button value; None when it is not one of ours."""
        try:
            data = json.loads(value)
            return CheckButton(
                record_id(data["rollout"]), str(data["checklist"]), record_id(data["item"])
            )
        except (KeyError, TypeError, ValueError):
            return None


class Ask(Event, kind="signoff.ask"):
    """A request to sign, as shown in a direct message (bot/wording/signoff.py words it)."""

    stage: AskStage
    flag_key: str
    plan_title: str
    phase_name: str
    step_name: str
    percentage: int
    gate_title: str
    role_name: str
    requester: str
    chain: ChainState  # one line per role: signed by whom, waiting, not yet asked
    checklists: tuple[OpenChecklist, ...]  # the gate's checklists with items still open
    button: SignButton
    reminders_sent: int = 0  # a reminder: how many have been sent
    waited: timedelta = timedelta(0)  # a reminder or escalation: since the first ask
    metrics: tuple[MetricReading, ...] = ()  # the latest value of each metric probe


class SignoffNotifier(Protocol):
    """Direct messages about sign-offs."""

    def ask(self, user_id: str, ask: Ask) -> MessageRef | None:
        """Send `ask` with Approve / Reject buttons; return where it is (to edit it later)."""
        ...

    def close(self, ref: MessageRef, text: Said) -> None:
        """Replace a sent ask with `text` (no buttons): signed, passed or out of date."""
        ...

    def tell(self, user_id: str, text: Said) -> None:
        """Send `text` to one person."""
        ...


class NullSignoffNotifier:
    """No chat: sign-off messages only go to the log."""

    def ask(self, user_id: str, ask: Ask) -> MessageRef | None:
        """Log the ask."""
        log.info(
            "sign-off %s for %s: %s of %s (%s)",
            ask.stage.value,
            user_id,
            ask.role_name,
            ask.flag_key,
            ask.gate_title,
        )
        return None

    def close(self, ref: MessageRef, text: Said) -> None:
        """Nothing to edit."""

    def tell(self, user_id: str, text: Said) -> None:
        """Log the message."""
        log.info("to %s: %s", user_id, text)


def close_quietly(notifier: SignoffNotifier, ref: MessageRef, text: Said) -> None:
    """Edit a sent ask to say it closed; a failure is only logged, because the signature or
    the step change it reports is already committed and the message is only a courtesy."""
    try:
        notifier.close(ref, text)
    except Exception:
        log.warning("could not update sign-off message %s", ref, exc_info=True)
