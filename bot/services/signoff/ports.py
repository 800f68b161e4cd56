"""How the sign-off service reaches people: direct messages with Approve / Reject, edits of
those messages when they go stale, and plain messages (requester told, escalations).

Chat adapters implement `SignoffNotifier` (Slack: bot/slack/signoff_notifier.py, the shell:
bot/shell/signoff_notifier.py). Failures raise; the caller retries later.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Protocol

from bot.domain.ids import record_id
from bot.domain.message import Code, Message, Strong

log = logging.getLogger(__name__)

ANY_ROLE = "*"  # a card's Reject button: whichever role still to sign the clicker holds

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


@dataclass(frozen=True)
class Ask:
    """A request to sign, as shown in a direct message."""

    kind: str  # ask | reminder | escalation
    flag_key: str
    plan_title: str
    phase_name: str
    step_name: str
    percentage: int
    gate_title: str
    role_name: str
    requester: str
    chain: Message  # one line per role: signed by whom, waiting, not yet asked
    checklists: str  # text, a line per checklist: what the gate's checklists still need
    button: SignButton
    note: str = ""  # e.g. "Reminder 2" or "Escalated: nobody signed for 2d"
    metrics: str = ""  # text: the latest value of each metric probe (empty without any)

    @property
    def headline(self) -> Message:
        """The first line: what is asked of whom."""
        prefix = {"reminder": "Reminder: ", "escalation": "Escalated: "}.get(self.kind, "")
        return Message(
            f"{prefix}your sign-off as ",
            Strong(self.role_name),
            " is needed for ",
            Code(self.flag_key),
            " (",
            Strong(self.gate_title),
            ")",
        )


class SignoffNotifier(Protocol):
    """Direct messages about sign-offs."""

    def ask(self, user_id: str, ask: Ask) -> MessageRef | None:
        """Send `ask` with Approve / Reject buttons; return where it is (to edit it later)."""
        ...

    def close(self, ref: MessageRef, text: Message) -> None:
        """Replace a sent ask with `text` (no buttons): signed, passed or out of date."""
        ...

    def tell(self, user_id: str, text: Message) -> None:
        """Send `text` to one person."""
        ...


class NullSignoffNotifier:
    """No chat: sign-off messages only go to the log."""

    def ask(self, user_id: str, ask: Ask) -> MessageRef | None:
        """Log the ask."""
        log.info("sign-off ask for %s: %s", user_id, ask.headline.plain())
        return None

    def close(self, ref: MessageRef, text: Message) -> None:
        """Nothing to edit."""

    def tell(self, user_id: str, text: Message) -> None:
        """Log the message."""
        log.info("to %s: %s", user_id, text.plain())


def close_quietly(notifier: SignoffNotifier, ref: MessageRef, text: Message) -> None:
    """Edit a sent ask to say it closed; a failure is only logged, because the signature or
    the step change it reports is already committed and the message is only a courtesy."""
    try:
        notifier.close(ref, text)
    except Exception:
        log.warning("could not update sign-off message %s", ref, exc_info=True)
