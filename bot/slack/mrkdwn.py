"""Messages in Slack's mrkdwn: the one place that writes mentions, bold, code, links and
emoji, and escapes text (`&`, `<`, `>`) so that user and outside text stays text."""

from __future__ import annotations

from bot.domain.message import (
    Channel,
    Code,
    GroupMention,
    Link,
    Mention,
    Message,
    Part,
    Preformatted,
    Sign,
    Strong,
)

SIGNS: dict[Sign, str] = {
    Sign.WARNING: ":warning:",
    Sign.OK: ":white_check_mark:",
    Sign.FAILED: ":x:",
    Sign.WAITING: ":hourglass_flowing_sand:",
    Sign.ROLLBACK: ":rewind:",
    Sign.INCIDENT: ":rotating_light:",
    Sign.PIN: ":pushpin:",
    Sign.STARTED: ":rocket:",
    Sign.PAUSED: ":pause_button:",
    Sign.RESUMED: ":arrow_forward:",
    Sign.CHECKED: ":ballot_box_with_check:",
    Sign.UNCHECKED: ":white_large_square:",
    Sign.OVERDUE: ":red_circle:",
    Sign.PENDING: ":white_circle:",
    Sign.STOPPED: ":no_entry:",
    Sign.TIMEOUT: ":alarm_clock:",
    Sign.REMINDER: ":hourglass:",
    Sign.POSTMORTEM: ":memo:",
    Sign.ANNOUNCE: ":mega:",
    Sign.REPEAT: ":repeat:",
}


def escape(text: str) -> str:
    """Text as Slack shows it literally: `<!channel>` stays text, not a ping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _is_user(user_id: str) -> bool:
    # Underscores too: rollbot has always mentioned `U…` ids as they came (tests use `U_ALICE`).
    rest = user_id[1:].replace("_", "")
    return user_id[:1] in ("U", "W") and rest.isalnum() and user_id.isascii()


def _inline(text: str) -> str:
    # Inside `*…*` or a code span a newline or the marker itself would end the span early.
    return escape(text).replace("\n", " ")


def _code(text: str) -> str:
    quoted = _inline(text).replace("`", "'")
    return f"`{quoted}`" if text else ""


def _strong(piece: Strong) -> str:
    # A `*` anywhere inside, code included, would end the bold early.
    inner = "".join(_inline(p) if isinstance(p, str) else _code(p.text) for p in piece.parts)
    return f"*{inner.replace('*', '')}*" if piece.text.strip() else ""


def part(piece: Part) -> str:
    """One part in mrkdwn."""
    match piece:
        case Sign():
            return SIGNS[piece] + " "
        case str():
            return escape(piece)
        case Mention(user_id=user):
            return f"<@{user}>" if _is_user(user) else escape(user)
        case Channel(channel_id=channel):
            ok = channel.isalnum() and channel.isascii()
            return f"<#{channel}>" if ok else f"#{escape(channel)}"
        case GroupMention(group_id=group):
            return f"<!subteam^{group}>" if group.isalnum() and group.isascii() else escape(group)
        case Strong():
            return _strong(piece)
        case Code(text=text):
            return _code(text)
        case Preformatted(text=text):
            # A code block ends at the next triple backtick, so none may appear inside.
            fenced = escape(text).replace("```", "'''")
            return f"```{fenced}```" if text else ""
        case Link(url=url, label=label):
            safe = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
            return f"<{safe}|{_inline(label).replace('|', '/')}>" if label else f"<{safe}>"
    raise TypeError(f"not a message part: {piece!r}")


def mrkdwn(message: Message | str) -> str:
    """A message (or plain text) as Slack mrkdwn."""
    if isinstance(message, str):
        return escape(message)
    return "".join(part(p) for p in message.parts)
