"""Plain-text rendering of rollout cards and command replies for the terminal."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.commands.reply import Reply
from bot.services.events import Said
from bot.services.rollouts.views import RolloutView
from bot.shell import text as terminal
from bot.shell.text import text as message_text
from bot.wording import waiting_line, words

_EMOJI = {
    ":warning:": "!",
    ":white_check_mark:": "OK",
    ":x:": "x",
    ":rocket:": "",
    ":pause_button:": "",
    ":arrow_forward:": "",
    ":hourglass_flowing_sand:": "..",
    ":white_circle:": "-",
    ":no_entry:": "x",
    ":ballot_box_with_check:": "[x]",
    ":white_large_square:": "[ ]",
    ":red_circle:": "[!]",
}

_LINK = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>|<((?:https?|mailto):[^>|]+)(?:\|([^>]*))?>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")


def utc(moment: datetime) -> str:
    """A moment as `YYYY-MM-DD HH:MM UTC` (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _link(match: re.Match[str]) -> str:
    sigil, target, label, url, url_label = match.groups()
    if url is not None:
        return f"{url_label} ({url})" if url_label else url
    if sigil == "@":
        return f"@{label or target}"
    if sigil == "#":
        return f"#{label or target}"
    return f"@{label or target}"  # <!here>, <!channel>, <!subteam^ID|name>


def _plain(segment: str) -> str:
    """Convert mrkdwn outside code spans."""
    segment = _LINK.sub(_link, segment)
    segment = _BOLD.sub(r"\1", segment)
    segment = _STRIKE.sub(r"\1", segment)
    for code, text in _EMOJI.items():
        segment = segment.replace(f"{code} ", f"{text} " if text else "")
        segment = segment.replace(code, text)
    return segment.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def plain_text(mrkdwn: str) -> str:
    """Slack mrkdwn as terminal text: `*bold*` -> bold, `<@U1>` -> @U1, :warning: -> !.

    Text inside backticks is left exactly as written (it is what people type).
    """
    parts = mrkdwn.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: treat the tail as ordinary text
        parts[-2:] = [parts[-2] + "`" + parts[-1]]
    return "`".join(part if i % 2 else _plain(part) for i, part in enumerate(parts))


def terminal_text(message: str | Said) -> str:
    """A reply's or event's text for the terminal: an event in its words (bot/wording/) and
    a `Message` as text, a str (mrkdwn) without its markup."""
    return plain_text(message) if isinstance(message, str) else terminal.text(words(message))


def render_reply(reply: Reply) -> str:
    """The text of a reply, without mrkdwn (cards are rendered separately)."""
    return terminal_text(reply.message or reply.text).rstrip()


def render_buttons(view: RolloutView) -> str:
    """The card's buttons as `[Advance to 25%] [Pause]`."""
    return " ".join(f"[{b.label}]" for b in view.buttons)


def render_card(view: RolloutView) -> str:
    """A rollout card as indented lines (the terminal version of the Slack card)."""
    state = view.state.value.replace("_", " ")
    rows: list[tuple[str, str]] = [
        ("State", state),
        ("Phase", f"{view.phase_name} ({view.phase_number}/{view.phase_count})"),
        ("Step", f"{view.step_number}/{view.step_count} {view.step_name}"),
        ("Percentage", f"{view.percentage}%"),
    ]
    if view.next_step is not None:
        nxt = f"{view.next_step} ({view.next_percentage}%)"
        if view.due_at is not None:
            how = "advances by itself at" if view.auto_advance else "can advance from"
            nxt += f", {how} {utc(view.due_at)}"
        rows.append(("Next", nxt))
    elif view.due_at is not None:
        rows.append(("Due", utc(view.due_at)))
    rows.append(("Waiting for", message_text(waiting_line(view))))
    rows.append(("Started by", f"{view.started_by} at {utc(view.started_at)}"))
    width = max(len(label) for label, _ in rows) + 1
    head = f"== {view.flag_key}: {plain_text(view.plan_title)} (plan {view.plan_name}) =="
    lines = [head] + [f"   {label + ':':<{width}} {value}" for label, value in rows]
    for note in view.notes:
        shown = terminal_text(note)
        lines.extend(f"   {line}" for line in shown.splitlines())
    buttons = render_buttons(view)
    lines.append(f"   {buttons}" if buttons else "   (no buttons)")
    return "\n".join(lines)
