"""The digest template's parts, in the order a chat shows them (shared by Slack and the
shell, like the rest of this package).

Which blocks a digest has and how many items each section shows is the same in every
chat; only how text is written differs (Slack's mrkdwn, the terminal's plain text), which
each chat gives as a `Writer`. The wording is in templates/digest.md.j2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.domain.durations import format_duration
from bot.domain.message import GroupMention, Mention, Message, Sign, person
from bot.domain.message import Part as Part_
from bot.services.digests.digest import QUIET, Digest, SignoffWaiting
from bot.wording import words

TEMPLATE = "digest.md.j2"
# Items each section shows; the rest are counted ("… and 37 more rollouts"), so a digest
# of any size stays a few messages.
SHOWN = 15

SIGNS = {
    "ok": Sign.OK,
    "met": Sign.OK,
    "missed": Sign.FAILED,
    "no data": Sign.PENDING,
    "warning": Sign.WARNING,
    "waiting": Sign.WAITING,
    "incident": Sign.INCIDENT,
    "overdue": Sign.OVERDUE,
    "postmortem": Sign.POSTMORTEM,
}


class Written(str):
    """Text a writer produced (already in the chat's syntax): not escaped again."""

    __slots__ = ()


@dataclass(frozen=True)
class Writer:
    """How one chat writes text: escape plain text, write a Message, bold, a sign."""

    escape: Callable[[str], str]
    message: Callable[[Message], str]
    strong: Callable[[str], str]
    sign: Callable[[Sign], str]
    date: Callable[[datetime, str], str]


@dataclass(frozen=True)
class Part:
    """One block of a digest: `kind` is header, text, section or more."""

    kind: str
    text: str


def _when(value: datetime, timezone: str) -> str:
    """A date in the digest's timezone, for people (the shell's and Slack's fallback)."""
    local = value.astimezone(ZoneInfo(timezone))
    return local.strftime("%a %Y-%m-%d %H:%M ") + (local.tzname() or timezone)


def plain_date(value: datetime, timezone: str) -> str:
    """A date as text in the digest's timezone."""
    return _when(value, timezone)


class DigestTemplate:
    """templates/digest.md.j2 for one chat's writer."""

    def __init__(self, templates_dir: Path, writer: Writer) -> None:
        self.writer = writer
        env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            finalize=self._finalize,
        )
        w = writer
        env.filters.update(
            strong=lambda text: Written(w.strong(str(text))),
            msg=lambda said: Written(w.message(words(said))),
            when=lambda value, tz="UTC": Written(w.date(value, tz)),
            ago=lambda delta: Written(format_duration(delta) if delta > timedelta(0) else "0s"),
            sign=lambda name: Written(w.sign(SIGNS[str(name)])),
            person=lambda user: Written(w.message(Message(person(str(user))))),
            who=lambda s: Written(w.message(_holders(s))),
        )
        self.module: Any = env.get_template(TEMPLATE).module

    def _finalize(self, value: object) -> str:
        # Every value the template prints is escaped, unless a filter wrote it.
        if isinstance(value, Written):
            return value
        return self.writer.escape("" if value is None else str(value))

    def parts(self, digest: Digest) -> list[Part]:
        """The digest as blocks, each section capped at `SHOWN` items plus a count."""
        m = self.module
        tz = digest.timezone
        out = [Part("header", str(m.header(digest))), Part("text", str(m.intro(digest)))]
        if digest.quiet:
            out.append(Part("text", str(m.quiet(QUIET))))
            return out

        def section(title: str, items: tuple[Any, ...], render: Any, what: str) -> None:
            if not items:
                return
            out.append(Part("section", str(m.section(title, len(items)))))
            for item in items[:SHOWN]:
                out.append(Part("text", str(render(item, tz))))
            if len(items) > SHOWN:
                out.append(Part("more", str(m.more(len(items) - SHOWN, what))))

        section("Active rollouts", digest.rollouts, _tz(m.rollout), "rollouts")
        section("Sign-offs waiting", digest.signoffs, _tz(m.signoff), "sign-offs")
        late = digest.late_incidents
        section("Open incidents", digest.incidents, _tz(m.incident), "incidents")
        if late:
            out.append(
                Part(
                    "more",
                    self.writer.sign(Sign.OVERDUE)
                    + self.writer.escape(
                        f"{len(late)} incident(s) with a late first status update"
                    ),
                )
            )
        section("Post-mortems due", digest.postmortems, _tz(m.postmortem), "post-mortems")
        section("Checklist items overdue", digest.overdue_items, _tz(m.overdue_item), "items")
        scored = tuple(r for r in digest.rollouts if r.scorecard)
        section("Success metrics", scored, _tz(m.scorecard), "scorecards")
        return out


def _tz(macro: Any) -> Callable[[Any, str], str]:
    """An item macro of the template as a function of (item, timezone)."""

    def call(item: Any, tz: str) -> str:
        return str(macro(item, tz))

    return call


def _holders(signoff: SignoffWaiting) -> Message:
    people: list[Part_] = [Mention(u) for u in signoff.holders]
    if signoff.usergroup:
        people.append(GroupMention(signoff.usergroup))
    return Message.join(", ", people) if people else Message("nobody holds the role")
