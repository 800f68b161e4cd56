"""Benchmark: post-mortem drafting and the time to a published first status update.

    python3 bench/postmortem.py [--events 10000] [--baseline 100] [--repeat 5]

1. Drafting a post-mortem from a timeline of N events (read from a SQLite database and
   rendered with templates/postmortem.md.j2), against a baseline of 100 events. The
   10,000-event draft should stay under one second.
2. Declaring an incident and getting its first status update published, with a status
   page that answers at once: (a) the commander presses Publish right away, (b) nobody does
   and rollbot publishes at the auto-publish point (the clock is moved, not waited for).

Figures are medians of --repeat runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import ManualClock
from bot.config.incidents import IncidentsConfig
from bot.domain.actor import Actor, Via
from bot.domain.incident import EventKind, Severity
from bot.services.incidents.ports import StatusUpdate
from bot.services.incidents.service import IncidentService
from bot.store import incidents as store
from bot.store.database import Database

ALICE = Actor("U0ALICE", Via.SLACK)


class InstantStatusPage:
    """A status page that answers at once."""

    name = "instant"

    def __init__(self) -> None:
        self.published: list[StatusUpdate] = []

    def publish(self, update: StatusUpdate) -> str:
        self.published.append(update)
        return f"instant-{len(self.published)}"


def median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def service(directory: Path, name: str) -> tuple[IncidentService, ManualClock, InstantStatusPage]:
    clock = ManualClock()
    page = InstantStatusPage()
    db = Database(f"sqlite:///{directory / name}.db")
    return IncidentService(db, clock, IncidentsConfig(), status_pages=[page]), clock, page


def incident_with_events(svc: IncidentService, clock: ManualClock, count: int) -> int:
    """A resolved incident whose timeline has `count` events."""
    incident_id = svc.declare(Severity.SEV2, "Checkout API errors", ALICE).view.id
    start = clock.now()
    kinds = [EventKind.NOTE, EventKind.PINNED, EventKind.ALERT, EventKind.ROLLBACK]
    with svc.db.session() as s:
        for i in range(count):
            store.add_event(
                s,
                incident_id,
                start + timedelta(seconds=i),
                kinds[i % len(kinds)],
                f"event {i}: error rate {i % 7}.{i % 10}% | api-{i % 12} restarted",
                "U0BOB",
                "https://example.slack.com/archives/C1/p1" if i % 5 == 0 else None,
            )
    clock.advance(timedelta(seconds=count + 60))
    svc.resolve(incident_id, "Rolled back", ALICE)
    return incident_id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        svc, clock, _ = service(directory, "drafts")
        small = incident_with_events(svc, clock, args.baseline)
        large = incident_with_events(svc, clock, args.events)
        small_ms = median_ms(lambda: svc.render_postmortem_of(small), args.repeat)
        large_ms = median_ms(lambda: svc.render_postmortem_of(large), args.repeat)
        size = len(svc.render_postmortem_of(large))
        svc.db.dispose()

        def declare_and_publish() -> None:
            svc, _, page = service(directory, f"publish-{time.perf_counter_ns()}")
            view = svc.declare(Severity.SEV2, "Checkout API errors", ALICE).view
            with svc.db.session() as s:
                [draft] = store.updates_of(s, view.id)
            assert draft.id is not None
            svc.publish_draft(draft.id, ALICE)
            assert len(page.published) == 1
            svc.db.dispose()

        def declare_and_autopublish() -> None:
            svc, clock, page = service(directory, f"auto-{time.perf_counter_ns()}")
            svc.declare(Severity.SEV2, "Checkout API errors", ALICE)
            clock.advance(svc.deadlines.auto_publish)
            svc.run_due()
            assert len(page.published) == 1
            svc.db.dispose()

        publish_ms = median_ms(declare_and_publish, args.repeat)
        auto_ms = median_ms(declare_and_autopublish, args.repeat)

    print(f"post-mortem draft, {args.baseline:>6} events: {small_ms:8.1f} ms (baseline)")
    print(
        f"post-mortem draft, {args.events:>6} events: {large_ms:8.1f} ms "
        f"({large_ms / small_ms:.1f}x the baseline for {args.events / args.baseline:.0f}x the "
        f"events; {size / 1024:.0f} KiB of Markdown)"
    )
    print(f"declare -> first update published (Publish pressed at once): {publish_ms:8.1f} ms")
    print(
        f"declare -> first update published at the auto-publish point: {auto_ms:8.1f} ms "
        "of work (+ the configured 4 min wait, simulated)"
    )
    ok = large_ms < 1000
    print("OK: the large draft takes under one second" if ok else "SLOW: over one second")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
