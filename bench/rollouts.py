"""rollbot's speed and scale figures, measured here rather than in timed unit tests.

    python3 bench/rollouts.py            # full run (1,000 rollouts, 100,000 evaluations)
    python3 bench/rollouts.py --quick    # a small run, seconds long (the smoke test's)

Figures, each line starting with its name in brackets:

[advance_due]  the scheduler's tick with 10, 100 and 1,000 rollouts due at the same moment,
               on SQLite and (if reachable) PostgreSQL: its time (best of two ticks) and the
               SQL statements it issued, batched (today: due rows claimed in one statement,
               flags, audit and threads handled together) against the baseline started the
               same way in the same run, one by one (each rollout in transactions of its
               own, as before, and as with a remote flag provider); the ratios; and the
               idle tick (nothing due).
[bucketing]    Unleash-compatible evaluation of 100,000 user ids: time per evaluation, its
               ratio to the bare murmur3 hash, and the share enabled at 25%.
[replicas]     two processes (two replicas) running advance_due on the same database at the
               same moment: how many steps each took and whether every rollout advanced
               exactly once, checked in the database. This is the correctness figure that
               running several replicas relies on; the script exits 1 when it fails.

PostgreSQL is looked for at --postgres (default: the test suite's 127.0.0.1:5432/test); a
fresh database is created there for each run and dropped after.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

# Benchmark this checkout, not whichever one an editable install points at.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mmh3
from sqlalchemy import event
from sqlmodel import col, func, select

from bot.clock import ManualClock
from bot.config.settings import Settings, load_settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.domain.bucketing import evaluate
from bot.domain.flag import FlagDocument
from bot.store import rollouts
from bot.store.models import AuditRow

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
BAKE = timedelta(hours=1)
# Every rollout starts on a step that bakes an hour and then advances by itself.
PLAN = """\
name: bench
title: Benchmark plan
phases:
  - id: ramp
    name: Ramp
    steps:
      - {name: Five percent, percentage: 5, bake: 1h, auto_advance: true}
      - {name: A quarter, percentage: 25, bake: 1h, auto_advance: true}
      - {name: Everyone, percentage: 100}
"""
ACTOR = Actor("bench", Via.SHELL)


def figure(name: str, text: str) -> None:
    """Print one figure line, flushed so a slow run shows progress."""
    print(f"[{name}] {text}", flush=True)


# ---------------------------------------------------------------------------- databases


@contextmanager
def sqlite_url(workdir: Path) -> Iterator[str]:
    """A fresh SQLite file."""
    yield f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"


@contextmanager
def postgres_url(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database on the server of `admin_url`, dropped afterwards."""
    import psycopg

    name = f"rollbot_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = admin_url.rsplit("/", 1)[0]
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_reachable(admin_url: str) -> str | None:
    """None when PostgreSQL answers at `admin_url`, else why not."""
    try:
        import psycopg

        psycopg.connect(admin_url, connect_timeout=5).close()
    except Exception as exc:  # any failure means: skip PostgreSQL, say why
        return str(exc).strip().splitlines()[0]
    return None


def bench_settings(url: str, workdir: Path) -> Settings:
    """Settings for `url` with the benchmark plan (`PLAN`) as the default, files in `workdir`."""
    plans = workdir / "plans"
    plans.mkdir(exist_ok=True)
    (plans / "bench.yaml").write_text(PLAN, encoding="utf-8")
    config = workdir / "rollbot.yaml"
    config.write_text(f"rollouts:\n  plans_dir: {plans}\n  default_plan: bench\n")
    return load_settings(env={"DATABASE_URL": url}, config_path=config)


def bench_rollbot(url: str, workdir: Path, clock: ManualClock) -> Rollbot:
    """A rollbot on `url` with the benchmark plan and no chat."""
    return build(bench_settings(url, workdir), clock)


def start_rollouts(rollbot: Rollbot, count: int) -> None:
    """Start `count` rollouts, all due one bake later."""
    for i in range(count):
        rollbot.rollouts.start(f"bench-{i:05d}", "bench", ACTOR)


def advances_per_rollout(rollbot: Rollbot) -> Counter[str]:
    """How many times the database recorded each rollout advancing."""
    with rollbot.db.session() as s:
        query = (
            select(AuditRow.subject_id, func.count())
            .where(col(AuditRow.action) == "rollout.advanced")
            .group_by(col(AuditRow.subject_id))
        )
        return Counter({str(key): int(n) for key, n in s.exec(query)})


# ---------------------------------------------------------------------------- figures


def one_by_one_tick(rollbot: Rollbot) -> list[Any]:
    """The baseline tick: every due rollout claimed, advanced and announced in transactions
    of its own, as before batching (and as with a remote flag provider today)."""
    changes = rollbot.rollouts.changes
    now = rollbot.clock.now()
    with rollbot.db.read() as s:
        due = rollouts.due_ids(s, now)
    done = []
    for rollout_id in due:
        outcome = changes._advance_due_one(rollout_id, now)
        if outcome is not None:
            done.append(changes.announcer.announce(outcome))
    return done


def counted(rollbot: Rollbot, tick: Any) -> tuple[float, int, int]:
    """One tick: (seconds, SQL statements, rollouts advanced)."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(rollbot.db.engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        done = tick()
        elapsed = time.perf_counter() - started
    finally:
        event.remove(rollbot.db.engine, "before_cursor_execute", count)
    return elapsed, len(statements), len(done)


def bench_advance_due(backend: str, url_of: Any, sizes: list[int], workdir: Path) -> None:
    """[advance_due]: one tick with `size` rollouts due, batched (today) and one by one (the
    baseline), each on a fresh database, order alternated; statements, times, ratios."""
    for n, size in enumerate(sizes):
        got: dict[str, tuple[float, int]] = {}
        ways = ["batched", "one-by-one"] if n % 2 == 0 else ["one-by-one", "batched"]
        for way in ways:
            with url_of() as url:
                clock = ManualClock()
                rollbot = bench_rollbot(url, workdir, clock)
                try:
                    start_rollouts(rollbot, size)
                    idle = counted(rollbot, rollbot.rollouts.advance_due)
                    ticks = []
                    for _ in range(2):  # two steps of the plan: the best of two ticks
                        clock.advance(BAKE)
                        tick = (
                            rollbot.rollouts.advance_due
                            if way == "batched"
                            else lambda rb=rollbot: one_by_one_tick(rb)
                        )
                        elapsed, statements, advanced = counted(rollbot, tick)
                        if advanced != size:
                            raise SystemExit(f"{way} tick advanced {advanced} of {size} due")
                        ticks.append((elapsed, statements))
                finally:
                    rollbot.db.dispose()
            got[way] = min(ticks)
            if way == "batched" and n == 0:
                figure(
                    "advance_due",
                    f"{backend:<10} idle tick: {idle[0] * 1000:.1f} ms, {idle[1]} statements",
                )
        (b_s, b_n), (o_s, o_n) = got["batched"], got["one-by-one"]
        figure(
            "advance_due",
            f"{backend:<10} {size:>5} due: batched {b_s:7.3f} s, {b_n:>5} statements; "
            f"one by one {o_s:7.3f} s, {o_n:>6} statements; x{o_s / b_s:.1f} faster, "
            f"x{o_n / b_n:.1f} fewer statements",
        )


def bench_bucketing(count: int) -> None:
    """[bucketing]: `count` evaluations of a 25% flag; ratio vs the bare hash."""
    rng = random.Random(183)
    users = [f"user-{rng.getrandbits(64):016x}" for _ in range(count)]
    doc = FlagDocument(enabled=True, rollout_percentage=25)
    started = time.perf_counter()
    enabled = sum(evaluate(doc, "realtime-features", user)[0] for user in users)
    per = (time.perf_counter() - started) / count
    started = time.perf_counter()
    for user in users:
        mmh3.hash(f"realtime-features:{user}", 0, signed=False)
    hash_only = (time.perf_counter() - started) / count
    figure(
        "bucketing",
        f"{count} evaluations: {per * 1e6:.2f} us/evaluation, x{per / hash_only:.1f} vs "
        f"murmur3 alone ({hash_only * 1e6:.2f} us); enabled at 25%: "
        f"{100 * enabled / count:.2f}%",
    )


def _replica(url: str, workdir: str, now: str, barrier: Any, results: Any) -> None:
    """One replica: its own process and engine, ticking when the other one does."""
    clock = ManualClock(datetime.fromisoformat(now))
    rollbot = bench_rollbot(url, Path(workdir), clock)
    try:
        barrier.wait(timeout=60)
        results.put([outcome.view.flag_key for outcome in rollbot.rollouts.advance_due()])
    finally:
        rollbot.db.dispose()


def bench_replicas(backend: str, url_of: Any, size: int, workdir: Path) -> bool:
    """[replicas]: two processes tick at once over `size` due rollouts; True when each
    rollout advanced exactly once."""
    with url_of() as url:
        clock = ManualClock()
        rollbot = bench_rollbot(url, workdir, clock)
        try:
            start_rollouts(rollbot, size)
            clock.advance(BAKE)
            # Spawned, not forked: each replica opens its own connections from scratch.
            ctx = multiprocessing.get_context("spawn")
            barrier, results = ctx.Barrier(2), ctx.Queue()
            args = (url, str(workdir), clock.now().isoformat(), barrier, results)
            replicas = [ctx.Process(target=_replica, args=args) for _ in range(2)]
            started = time.perf_counter()
            for process in replicas:
                process.start()
            taken = [results.get(timeout=300) for _ in replicas]
            for process in replicas:
                process.join(timeout=60)
            elapsed = time.perf_counter() - started
            recorded = advances_per_rollout(rollbot)
        finally:
            rollbot.db.dispose()
    claimed = Counter(key for keys in taken for key in keys)
    once = (
        len(recorded) == size
        and set(recorded.values()) == {1}
        and claimed == recorded
        and all(p.exitcode == 0 for p in replicas)
    )
    figure(
        "replicas",
        f"{backend:<10} 2 processes, {size} due: {sum(recorded.values())} advances for "
        f"{len(recorded)} rollouts (replica A {len(taken[0])}, B {len(taken[1])}) in "
        f"{elapsed:.2f} s: {'each exactly once' if once else 'NOT each exactly once'}",
    )
    return once


def main(argv: list[str] | None = None) -> int:
    """Run every figure; exit 1 when the replicas figure is wrong."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--postgres", default=POSTGRES_ADMIN_URL, help="PostgreSQL to use")
    args = parser.parse_args(argv)
    sizes = [10, 50] if args.quick else [10, 100, 1000]
    evaluations = 10_000 if args.quick else 100_000
    replica_size = 50 if args.quick else 500

    print(f"rollbot benchmarks ({'quick' if args.quick else 'full'} run)", flush=True)
    ok = True
    with tempfile.TemporaryDirectory(prefix="rollbot-bench-") as tmp:
        workdir = Path(tmp)
        backends: list[tuple[str, Any]] = [("sqlite", lambda: sqlite_url(workdir))]
        unreachable = postgres_reachable(args.postgres)
        if unreachable is None:
            backends.append(("postgresql", lambda: postgres_url(args.postgres)))
        for backend, url_of in backends:
            bench_advance_due(backend, url_of, sizes, workdir)
        bench_bucketing(evaluations)
        for backend, url_of in backends:
            ok = bench_replicas(backend, url_of, replica_size, workdir) and ok
        if unreachable is not None:
            for name in ("advance_due", "replicas"):
                figure(name, f"postgresql skipped: not reachable ({unreachable})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
