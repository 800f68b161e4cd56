"""Messages as terminal text: mentions as `@name`, signs as short words, no markup."""

from __future__ import annotations

from bot.domain.message import Message, Part, Sign, plain_part

SIGNS: dict[Sign, str] = {
    Sign.WARNING: "!",
    Sign.OK: "OK",
    Sign.FAILED: "x",
    Sign.WAITING: "..",
    Sign.ROLLBACK: "<<",
    Sign.INCIDENT: "!!",
    Sign.PIN: "*",
    Sign.STARTED: "",
    Sign.PAUSED: "",
    Sign.RESUMED: "",
    Sign.CHECKED: "[x]",
    Sign.UNCHECKED: "[ ]",
    Sign.OVERDUE: "[!]",
    Sign.PENDING: "-",
    Sign.STOPPED: "x",
}


def part(piece: Part) -> str:
    """One part as terminal text."""
    if isinstance(piece, Sign):
        sign = SIGNS[piece]
        return f"{sign} " if sign else ""
    return plain_part(piece)


def text(message: Message | str) -> str:
    """A message (or plain text) as terminal text."""
    if isinstance(message, str):
        return message
    return "".join(part(p) for p in message.parts)
