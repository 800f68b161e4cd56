"""Reads while something writes: `/rollout status` latency on SQLite while a writer keeps
taking the write lock, with read-only sessions against reads that take the write lock.

    python3 -m bench.reads            # full run
    python3 -m bench.reads --quick    # a short run (the smoke test's)

[reads]  readers call `RolloutService.status` over and over while one writer holds a write
         transaction for --hold ms at a time, half of the time (like a scheduler tick or a
         burst of commands). Two ways, in one run, order alternated, same rollbot and database:
         `read-only` (today: `Database.read`, a deferred transaction on WAL) and
         `write-lock` (the baseline: every read opens its session with BEGIN IMMEDIATE, as
         before read-only sessions). Prints p50 / p99 of each and the ratio baseline / now.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

# Benchmark this checkout, not whichever one an editable install points at.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import Session

from bench.rollouts import bench_rollbot, figure, start_rollouts
from bot.clock import ManualClock
from bot.container import Rollbot
from bot.store import requests


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_round(
    rollbot: Rollbot,
    read: Callable[[], AbstractContextManager[Session]],
    readers: int,
    reads: int,
    hold_s: float,
) -> list[float]:
    """Latencies of `readers` x `reads` status reads while a writer holds the lock."""
    db = rollbot.db
    stop = threading.Event()
    original = db.read
    db.read = read  # type: ignore[method-assign]

    def writer() -> None:
        n = 0
        while not stop.is_set():
            with db.session() as s:
                requests.remember(s, f"bench-writer-{time.monotonic_ns()}-{n}", rollbot.clock.now())
                s.flush()  # the write lock is held from here until the commit
                time.sleep(hold_s)
            n += 1
            time.sleep(hold_s)  # and lets go as long: the lock is held half of the time

    latencies: list[float] = []
    lock = threading.Lock()

    def reader(index: int) -> None:
        mine: list[float] = []
        for i in range(reads):
            started = time.perf_counter()
            rollbot.rollouts.status(f"bench-{(index + i) % 20:05d}")
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    write_thread = threading.Thread(target=writer, daemon=True)
    write_thread.start()
    time.sleep(hold_s)  # the writer is in its first transaction
    threads = [threading.Thread(target=reader, args=(i,)) for i in range(readers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop.set()
        write_thread.join()
        db.read = original  # type: ignore[method-assign]
    return latencies


def main(argv: list[str] | None = None) -> int:
    """Run both ways, alternated, and print their figures side by side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--hold", type=float, default=20.0, help="ms the writer holds the lock")
    args = parser.parse_args(argv)
    rounds, readers, reads = (2, 2, 5) if args.quick else (4, 4, 50)
    hold_s = args.hold / 1000
    with tempfile.TemporaryDirectory(prefix="rollbot-bench-") as tmp:
        workdir = Path(tmp)
        rollbot = bench_rollbot(f"sqlite:///{workdir / 'reads.db'}", workdir, ManualClock())
        try:
            start_rollouts(rollbot, 20)
            ways: dict[str, Callable[[], AbstractContextManager[Session]]] = {
                "write-lock": rollbot.db.session,
                "read-only": rollbot.db.read,
            }
            got: dict[str, list[float]] = {name: [] for name in ways}
            order: Iterator[str] = iter([])
            for r in range(rounds):
                order = iter(ways if r % 2 == 0 else reversed(list(ways)))
                for name in order:
                    got[name].extend(one_round(rollbot, ways[name], readers, reads, hold_s))
        finally:
            rollbot.db.dispose()
    stats = {name: (statistics.median(v), _percentile(v, 0.99)) for name, v in got.items()}
    for name, (p50, p99) in stats.items():
        figure(
            "reads",
            f"sqlite {name:<10} {len(got[name])} status reads while a writer holds the lock "
            f"{args.hold:.0f} ms at a time: p50 {p50 * 1000:7.2f} ms, p99 {p99 * 1000:7.2f} ms",
        )
    base, now = stats["write-lock"], stats["read-only"]
    figure(
        "reads",
        f"ratio write-lock / read-only: p50 x{base[0] / now[0]:.1f}, p99 x{base[1] / now[1]:.1f}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
