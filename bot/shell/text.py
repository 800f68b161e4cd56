"""Messages as terminal text: mentions as `@name`, signs as short words, no markup."""

from __future__ import annotations

from bot.domain.message import Code, Message, Part, Preformatted, Sign, Strong, plain_part

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
    Sign.TIMEOUT: "!",
    Sign.REMINDER: "..",
    Sign.POSTMORTEM: "",
    Sign.ANNOUNCE: "",
    Sign.REPEAT: ":repeat:",
}


def part(piece: Part) -> str:
    """One part as terminal text."""
    if isinstance(piece, Sign):
        sign = SIGNS[piece]
        return f"{sign} " if sign else ""
    # Code keeps its backticks in the terminal: it is what people type, and what the shell
    # has always shown.
    if isinstance(piece, Code):
        return f"`{piece.text}`" if piece.text else ""
    if isinstance(piece, Strong):
        return "".join(part(p) for p in piece.parts)
    if isinstance(piece, Preformatted):
        return f"```{piece.text}```" if piece.text else ""
    return plain_part(piece)


def text(message: Message | str) -> str:
    """A message (or plain text) as terminal text."""
    if isinstance(message, str):
        return message
    return "".join(part(p) for p in message.parts)
