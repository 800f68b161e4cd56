"""Incidents in the terminal: channels, cards, drafts and files are printed.

A channel is a name (`#inc-20261129-api-errors`); the shell runs `/incident` commands in the
channel of the incident declared last, the way you would type them in that Slack channel.
"""

from __future__ import annotations

from pathlib import Path

from bot.services.events import Said
from bot.services.incidents.views import ChannelNameTaken, ChatMessage, DraftView, IncidentView
from bot.services.rollouts.notifier import CardLocation
from bot.shell.notifier import ShellNotifier
from bot.shell.render import utc
from bot.shell.text import text
from bot.wording import words


def render_incident(view: IncidentView) -> str:
    """The incident card as text."""
    lines = [
        f"+-- {view.severity.upper()}: {view.title} ({'open' if view.active else 'resolved'})",
        f"| status: {view.status}   impact: {view.impact}"
        + (f" ({', '.join(view.components)})" if view.components else ""),
        f"| commander: {view.commander or '-'}   declared {utc(view.declared_at)}"
        f" by {view.declared_by}",
        "| status page: "
        + (
            f"last update {utc(view.last_update_at)}"
            if view.last_update_at
            else f"no update yet, due {utc(view.status_deadline)}"
        ),
    ]
    if view.active and view.contacts:
        lines.append("| contacts: " + "; ".join(text(words(c)) for c in view.contacts))
    if not view.active and view.postmortem_due:
        state = "done" if view.postmortem_done else f"due {utc(view.postmortem_due)}"
        lines.append(f"| post-mortem: {'OVERDUE, ' if view.postmortem_overdue else ''}{state}")
    lines.append(f"+-- {view.key}")
    return "\n".join(lines)


class ShellIncidentChat:
    """An `IncidentChat` printing through the shell's notifier (one lock for all output)."""

    def __init__(self, notifier: ShellNotifier, folder: Path | None = None) -> None:
        self.notifier = notifier
        # Where post-mortem drafts are written (the shell has no channel to upload them to).
        self.folder = folder
        self.names: set[str] = set()
        self._shown: dict[int, str] = {}  # the card last printed per incident

    def create_channel(self, name: str, private: bool) -> str | None:
        """A pseudo channel named like the Slack one."""
        if name in self.names:
            raise ChannelNameTaken(name)
        self.names.add(name)
        self.notifier.write(f"[rollbot] opened #{name}")
        return name  # the channel's id is its name: `<#name>` prints as #name

    def invite(self, channel_id: str, user_ids: list[str]) -> None:
        """Say who was invited."""
        self.notifier.write(f"[#{channel_id}] invited {', '.join(user_ids)}")

    def show_card(self, view: IncidentView) -> CardLocation | None:
        """Print the card when it changed since it was last printed."""
        card = render_incident(view)
        if self._shown.get(view.id) != card:
            self._shown[view.id] = card
            self.notifier.write(card)
        if view.channel_id is None:
            return None
        return CardLocation(view.channel_id, view.card_ts or f"card-{view.id}")

    def post(self, channel_id: str | None, message: Said) -> None:
        """Print a channel message."""
        where = f"#{channel_id}" if channel_id else "rollbot"
        self.notifier.write(f"[{where}] {text(words(message))}")

    def direct(self, user_id: str, message: Said) -> None:
        """Print a direct message."""
        self.notifier.write(f"[DM to {user_id}] {text(words(message))}")

    def show_draft(self, user_id: str, draft: DraftView) -> CardLocation | None:
        """Print the draft and how to publish it."""
        if draft.state in ("draft", "queued"):
            when = (
                f" (published by itself at {utc(draft.auto_publish_at)})"
                if draft.auto_publish_at
                else ""
            )
            self.notifier.write(
                f"[DM to {user_id}] draft status update ({draft.status}){when}:\n"
                f"  {draft.message}\n  -> `/incident publish` to publish it now"
            )
        else:
            self.notifier.write(f"[DM to {user_id}] status update {draft.state}.")
        return CardLocation(f"dm-{user_id}", draft.dm_ts or f"draft-{draft.id}")

    def upload(self, channel_id: str | None, filename: str, content: str, title: str) -> str | None:
        """Write the file into the drafts folder and say where (without a folder, only that
        it is kept in the database)."""
        lines = content.count("\n") + 1
        where = f"#{channel_id}" if channel_id else "rollbot"
        if self.folder is None:
            self.notifier.write(f"[{where}] uploaded {filename} ({lines} lines): {title}")
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / Path(filename).name  # never outside the folder
        path.write_text(content, encoding="utf-8")
        self.notifier.write(f"[{where}] wrote {path} ({lines} lines): {title}")
        return str(path)

    def user_by_email(self, email: str) -> str | None:
        """The shell knows nobody's email."""
        return None

    def email_of(self, user_id: str) -> str | None:
        """The shell knows nobody's email."""
        return None

    def display_name(self, user_id: str) -> str | None:
        """In the shell, people are the names they typed (`as carol`)."""
        return user_id

    def message(self, channel_id: str, ts: str) -> ChatMessage | None:
        """The shell has no message history to pin from."""
        return None
