"""When digests are due, and posting each slot once.

APScheduler's `CronTrigger` computes a digest's slots in its timezone (DST included); the
`digest_slot` table records each slot posted, and the database's unique (digest, slot)
pair decides which replica posts it. Each tick asks: what is the latest slot after the
last one recorded, up to now? That one is claimed and queued in the outbox in one
transaction, then delivered. So:

- two replicas ticking at once: one insert wins, the other does nothing;
- a restart across a slot: the next tick finds it and posts it late, once, saying so;
  slots missed before it are not posted (only the latest, not a flood);
- a digest seen for the first time (a new database, a new digest in the config) records a
  baseline at now and posts from its next slot on: nothing is "missed" before it existed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from bot.config.digests import DigestConfig
from bot.services.digests.collect import DigestCollector
from bot.services.digests.context import DigestContext
from bot.store import digests as store
from bot.store import outbox

log = logging.getLogger(__name__)

OUTBOX_KIND = "digest"
# The replica that claims a slot attempts it at once; the outbox retries it only after this
# (so a second replica's delivery pass does not post it at the same moment).
FIRST_ATTEMPT_LEASE = timedelta(minutes=2)
# Windows tried, shortest first, to find the latest slot before a moment without walking
# every slot since the last one (a minutely digest after a week down is 10,000 slots).
_WINDOWS = (
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=8),
    timedelta(days=32),
    timedelta(days=370),
    timedelta(days=3700),
)
_TICK = timedelta(microseconds=1)


def next_slot(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first slot strictly after `after` (aware), in UTC, or None when there is none.

    Times are handed to the trigger in UTC: arithmetic on a local time in the repeated hour
    of an autumn change loses its `fold` and would find the same slot again forever. A
    wall-clock time that the autumn change repeats is one slot, as in cron: its second
    occurrence (`fold=1`) is skipped when the first one was a slot too.
    """
    at = after.astimezone(UTC)
    for _ in range(1000):
        found = trigger.get_next_fire_time(None, at + _TICK)
        if not isinstance(found, datetime):
            return None
        slot = found.astimezone(UTC)
        if slot <= at:  # a trigger that does not move on: never loop on it
            return None
        if getattr(found, "fold", 0) == 1:
            first = found.replace(fold=0).astimezone(UTC)
            if first < slot and _fires_at(trigger, first):
                at = slot
                continue
        return slot
    return None


def _fires_at(trigger: CronTrigger, moment: datetime) -> bool:
    found = trigger.get_next_fire_time(None, moment)
    return isinstance(found, datetime) and found.astimezone(UTC) == moment


def slots_between(trigger: CronTrigger, after: datetime, until: datetime) -> list[datetime]:
    """Every slot in (`after`, `until`], oldest first."""
    out: list[datetime] = []
    slot = next_slot(trigger, after)
    while slot is not None and slot <= until:
        out.append(slot)
        slot = next_slot(trigger, slot)
    return out


def latest_slot(trigger: CronTrigger, after: datetime, until: datetime) -> datetime | None:
    """The latest slot in (`after`, `until`], or None: what a tick posts."""
    first = next_slot(trigger, after)
    if first is None or first > until:
        return None
    for window in _WINDOWS:
        start = max(after, until - window)
        found = slots_between(trigger, start, until)
        if found:
            return found[-1]
    return slots_between(trigger, after, until)[-1]


@dataclass(frozen=True)
class Posted:
    """A slot this process claimed: which digest, which slot, late or not, delivered now."""

    digest: str
    slot_at: datetime
    late: bool
    delivered: bool


class DigestSchedule:
    """Finds due slots, claims each once, queues and delivers its digest."""

    def __init__(self, ctx: DigestContext, collector: DigestCollector) -> None:
        self.ctx = ctx
        self.collector = collector

    def run_due(self) -> list[Posted]:
        """Claim and post every digest's due slot; then retry digests the chat refused."""
        now = self.ctx.clock.now()
        posted: list[Posted] = []
        if self.ctx.digests:
            names = [d.name for d in self.ctx.digests]
            with self.ctx.db.session() as s:
                latest = store.latest_slots(s, names)
            for digest in self.ctx.digests:
                try:
                    done = self._one(digest, latest.get(digest.name), now)
                except Exception:
                    # One digest failing must not stop the others; the next tick retries.
                    log.exception("digest %s: due slot not posted", digest.name)
                    continue
                if done is not None:
                    posted.append(done)
        self.deliver_pending()
        return posted

    def _one(self, digest: DigestConfig, latest: datetime | None, now: datetime) -> Posted | None:
        if latest is None:
            with self.ctx.db.session() as s:
                if store.claim_slot(s, digest.name, now, now, kind=store.BASELINE):
                    log.info("digest %s: first seen; posting from its next slot", digest.name)
            return None
        slot = latest_slot(digest.trigger(), latest, now)
        if slot is None:
            return None
        late = now - slot > self.ctx.late_after
        with self.ctx.db.session() as s:
            if not store.claim_slot(s, digest.name, slot, now, late=late, channel=digest.channel):
                return None  # another replica posted it
            item = outbox.queue(
                s,
                OUTBOX_KIND,
                {
                    "digest": digest.name,
                    "channel": digest.channel,
                    "timezone": digest.timezone,
                    "slot_at": slot.isoformat(),
                    "late": late,
                },
                None,
                now,
                due_at=now + FIRST_ATTEMPT_LEASE,
            )
            item_id = item.id
        assert item_id is not None
        if late:
            log.warning("digest %s: slot %s missed; posting it late", digest.name, slot)
        return Posted(digest.name, slot, late, self._deliver(item_id))

    def deliver_pending(self) -> int:
        """Retry digests that could not be posted before; return how many got through."""
        with self.ctx.db.session() as s:
            pending = outbox.claim(s, self.ctx.clock.now(), kind=OUTBOX_KIND)
            ids = [p.id for p in pending if p.id is not None]
        return sum(self._deliver(i) for i in ids)

    def _deliver(self, item_id: int) -> bool:
        """Build the digest of the queued slot and post it; record the result."""
        with self.ctx.db.session() as s:
            item = outbox.by_id(s, item_id)
            payload = dict(item.payload) if item is not None else None
        if payload is None:
            return False
        error: str | None = None
        try:
            digest = self.collector.collect(
                str(payload["digest"]),
                str(payload.get("timezone") or "UTC"),
                datetime.fromisoformat(str(payload["slot_at"])),
                bool(payload.get("late")),
            )
            self.ctx.chat.post_digest(str(payload["channel"]), digest)
        except Exception as exc:
            error = str(exc) or type(exc).__name__
            log.warning("digest %s not posted yet: %s", payload.get("digest"), error)
        with self.ctx.db.session() as s:
            outbox.mark(s, item_id, self.ctx.clock.now(), error)
        if error is None:
            self.ctx.telemetry.digest_posted(str(payload["digest"]))
        return error is None
