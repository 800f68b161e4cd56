"""Incidents as pure rules: severities, statuses, channel names, deadlines, response times.

Nothing here reads the clock or talks to Slack, PagerDuty or a database: times come in as
arguments, so the rules behind the guarantees (a status update within five minutes, a
post-mortem within 48 hours) are tested without waiting.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.errors import RollbotError
from bot.domain.message import Code, Message


class Severity(StrEnum):
    """sev1 is the worst: a full outage or data loss; sev4 a minor annoyance."""

    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"


class Status(StrEnum):
    """The public status of an incident, as a status page shows it."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class Impact(StrEnum):
    """Customer impact, in Statuspage's vocabulary."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


SEVERITIES = tuple(s.value for s in Severity)
SEVERITY_HINT = "Severities: sev1 (worst), sev2, sev3, sev4."
STATUS_HINT = "Statuses: investigating, identified, monitoring, resolved."

# What a severity means for paging (PagerDuty Events v2 `payload.severity`) and for the
# status page when nobody says what the impact is.
PAGER_SEVERITY = {
    Severity.SEV1: "critical",
    Severity.SEV2: "error",
    Severity.SEV3: "warning",
    Severity.SEV4: "info",
}
DEFAULT_IMPACT = {
    Severity.SEV1: Impact.CRITICAL,
    Severity.SEV2: Impact.MAJOR,
    Severity.SEV3: Impact.MINOR,
    Severity.SEV4: Impact.NONE,
}


def parse_severity(text: str) -> Severity:
    """`sev2`, `SEV2`, `2` or `s2` as a Severity; RollbotError for anything else."""
    raw = text.strip().lower()
    for candidate in (raw, f"sev{raw}", "sev" + raw.removeprefix("s")):
        try:
            return Severity(candidate)
        except ValueError:
            continue
    raise RollbotError(Message(Code(text), " is not a severity."), SEVERITY_HINT)


def parse_status(text: str) -> Status:
    """A public status name; RollbotError for anything else."""
    try:
        return Status(text.strip().lower())
    except ValueError:
        raise RollbotError(
            Message(Code(text), " is not an incident status."), STATUS_HINT
        ) from None


def parse_impact(text: str) -> Impact:
    """An impact name; RollbotError for anything else."""
    try:
        return Impact(text.strip().lower())
    except ValueError:
        raise RollbotError(
            Message(Code(text), " is not an impact."), "Impacts: none, minor, major, critical."
        ) from None


# -- channel names ---------------------------------------------------------------------

MAX_CHANNEL_NAME = 80  # Slack's limit for conversations.create
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")


def slugify(title: str, limit: int = 40) -> str:
    """A lower-case, hyphenated slug of `title` made only of characters Slack allows.

    Accents are folded (`Störung` -> `storung`); the slug is cut at a word boundary when it
    can be, and is `incident` when nothing usable is left.
    """
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_ALLOWED.sub("-", folded.lower()).strip("-_")
    slug = re.sub(r"-{2,}", "-", slug)
    if len(slug) > limit:
        cut = slug[:limit]
        slug = cut.rsplit("-", 1)[0] if "-" in cut[limit // 2 :] else cut
        slug = slug.strip("-_")
    return slug or "incident"


def channel_name(prefix: str, declared_at: datetime, title: str, attempt: int = 1) -> str:
    """`<prefix>-<yyyymmdd>-<slug>`, plus `-<n>` when an earlier attempt's name was taken.

    Always at most 80 characters of lower-case letters, digits, `-` and `_`.
    """
    head = f"{slugify(prefix, 20) if prefix else 'inc'}-{declared_at:%Y%m%d}-"
    tail = f"-{attempt}" if attempt > 1 else ""
    room = MAX_CHANNEL_NAME - len(head) - len(tail)
    return f"{head}{slugify(title, min(40, room))}{tail}"


def incident_key(declared_at: datetime, title: str, number: int) -> str:
    """The stable id of an incident (PagerDuty dedup_key, status page incident id)."""
    return f"inc-{declared_at:%Y%m%d}-{number}-{slugify(title, 40)}"


# -- deadlines -------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadlines:
    """When things are due, relative to declaration and resolution (from config)."""

    status_update: timedelta = timedelta(minutes=5)
    auto_publish: timedelta = timedelta(minutes=4)
    update_interval: timedelta = timedelta(minutes=30)
    postmortem: timedelta = timedelta(hours=48)
    postmortem_reminders: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=44))

    def __post_init__(self) -> None:
        if self.auto_publish >= self.status_update:
            raise ValueError("auto_publish must come before the status update deadline")
        if any(r >= self.postmortem for r in self.postmortem_reminders):
            raise ValueError("post-mortem reminders must come before the post-mortem is due")

    def status_due(self, declared_at: datetime) -> datetime:
        """When the first public status update must be out."""
        return declared_at + self.status_update

    def auto_publish_at(self, declared_at: datetime) -> datetime:
        """When rollbot publishes the first draft itself if nobody has."""
        return declared_at + self.auto_publish

    def next_nudge(self, last_update_at: datetime) -> datetime:
        """When to nudge the commander if no status update follows `last_update_at`."""
        return last_update_at + self.update_interval

    def postmortem_due(self, resolved_at: datetime) -> datetime:
        """When the post-mortem must be done."""
        return resolved_at + self.postmortem

    def postmortem_reminder_times(self, resolved_at: datetime) -> list[datetime]:
        """When to remind about an unfinished post-mortem (before it is overdue)."""
        return [resolved_at + r for r in sorted(self.postmortem_reminders)]


def postmortem_overdue(due_at: datetime, done: bool, now: datetime) -> bool:
    """True when the post-mortem is not done and its due time (fixed at resolution, so a
    later config change does not move it) has passed."""
    return not done and now >= due_at


# -- timeline and response times -------------------------------------------------------


class EventKind(StrEnum):
    """Kinds of timeline events; the response times are computed from them."""

    DECLARED = "declared"
    CHANNEL = "channel"
    COMMANDER = "commander"
    PAGED = "paged"
    ACKNOWLEDGED = "acknowledged"
    STATUS_DRAFTED = "status_drafted"
    STATUS_PUBLISHED = "status_published"
    STATUS_FAILED = "status_failed"
    STATUS_CHANGED = "status_changed"
    DEADLINE_MISSED = "deadline_missed"
    NOTE = "note"
    PINNED = "pinned"
    ALERT = "alert"
    ROLLBACK = "rollback"
    NUDGE = "nudge"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"


@dataclass(frozen=True)
class TimelineEvent:
    """One entry of an incident's timeline."""

    at: datetime
    kind: EventKind
    message: Message
    actor: str = "rollbot"
    permalink: str | None = None

    @property
    def text(self) -> str:
        """The entry as plain text (people as `@id`), for the post-mortem and logs."""
        return self.message.plain()


@dataclass(frozen=True)
class ResponseTimes:
    """How long each response milestone took after declaration (None: not reached)."""

    to_acknowledge: timedelta | None
    to_first_status: timedelta | None
    to_mitigate: timedelta | None
    to_resolve: timedelta | None


def response_times(declared_at: datetime, events: Iterable[TimelineEvent]) -> ResponseTimes:
    """Response times from the first event of each milestone kind.

    Mitigated is the first move to `monitoring` (the fix is in, being watched) or, when an
    incident skips monitoring, its resolution. One pass, so a 10,000-event timeline costs
    next to nothing.
    """
    first: dict[str, datetime] = {}
    for event in events:
        key = event.kind.value
        if event.kind is EventKind.STATUS_CHANGED and event.text.startswith("monitoring"):
            key = "mitigated"
        if key not in first or event.at < first[key]:
            first[key] = event.at

    def since(key: str) -> timedelta | None:
        at = first.get(key)
        return None if at is None else max(timedelta(0), at - declared_at)

    resolve = since(EventKind.RESOLVED.value)
    mitigate = since("mitigated")
    if mitigate is None or (resolve is not None and resolve < mitigate):
        mitigate = resolve
    return ResponseTimes(
        to_acknowledge=since(EventKind.ACKNOWLEDGED.value),
        to_first_status=since(EventKind.STATUS_PUBLISHED.value),
        to_mitigate=mitigate,
        to_resolve=resolve,
    )


def format_span(span: timedelta | None) -> str:
    """`4m 12s`, `2h 5m`, `1d 3h`, or `—` when not reached."""
    if span is None:
        return "—"
    seconds = int(span.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
