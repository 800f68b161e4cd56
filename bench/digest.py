"""Benchmark: building a status digest over a large database.

    python3 bench/digest.py [--rollouts 1000] [--incidents 10000] [--repeat 3] [--quick]

A digest is built (its data collected, then rendered to Slack Block Kit messages) over a
database holding N active rollouts and M incidents (a tenth open; the resolved ones with a
post-mortem, half of them due within the day), against a baseline measured the same way in
the same run: 10 rollouts and 10 incidents. For each it prints the median build time, the
SQL statements one build issues (counted with SQLAlchemy's `before_cursor_execute`), and
the Slack messages the digest takes. The statement count must not grow with the data: the
script exits 1 when it does. Runs on SQLite, and on the PostgreSQL at 127.0.0.1:5432 when
one answers there (else that line says "skipped").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import event  # noqa: E402

from bot.clock import ManualClock  # noqa: E402
from bot.config.settings import load_settings  # noqa: E402
from bot.container import Rollbot, build  # noqa: E402
from bot.slack.digest_blocks import DigestRenderer  # noqa: E402
from tests.conftest import fresh_database, postgres_admin  # noqa: E402
from tests.digest_support import seed  # noqa: E402

NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str | None]:
    """A fresh database URL of `kind` (None when PostgreSQL does not answer)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'digest-{uuid.uuid4().hex[:8]}.db'}"
        return
    try:
        admin = postgres_admin()
    except Exception:
        yield None
        return
    with fresh_database(admin, "rollbot_bench") as url:
        yield url


def rollbot_on(url: str, folder: Path) -> Rollbot:
    config = folder / f"rollbot-{uuid.uuid4().hex[:8]}.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {REPO / 'config' / 'plans'}\n"
        "  default_plan: realtime-features\nsignoff:\n  enforce_gates: false\n"
        "digests:\n  - {name: daily, channel: C1, cron: '0 9 * * MON-FRI', timezone: UTC}\n",
        encoding="utf-8",
    )
    settings = load_settings(env={"DATABASE_URL": url}, config_path=config)
    return build(settings, ManualClock(NOW))


def measure(rollbot: Rollbot, repeat: int) -> tuple[float, int, int]:
    """Median build time (ms), statements per build, Slack messages of the digest."""
    assert rollbot.digests is not None
    renderer = DigestRenderer(REPO / "templates")
    statements = 0

    def counted(*_: object) -> None:
        nonlocal statements
        statements += 1

    times: list[float] = []
    counts: list[int] = []
    messages = 0
    for _ in range(repeat):
        statements = 0
        event.listen(rollbot.db.engine, "before_cursor_execute", counted)
        started = time.perf_counter()
        digest = rollbot.digests.show("daily")
        messages = len(renderer.messages(digest))
        times.append((time.perf_counter() - started) * 1000)
        event.remove(rollbot.db.engine, "before_cursor_execute", counted)
        counts.append(statements)
    return statistics.median(times), max(counts), messages


def run(kind: str, folder: Path, sizes: list[tuple[int, int]], repeat: int) -> bool:
    """Measure each size on a fresh database of `kind`; True when statements stayed equal."""
    results = []
    for rollouts, incidents in sizes:
        with database(kind, folder) as url:
            if url is None:
                print(f"[digest] {kind}: skipped (PostgreSQL not reachable at 127.0.0.1:5432)")
                return True
            rollbot = rollbot_on(url, folder)
            try:
                seed(rollbot, rollouts, incidents, NOW)
                results.append((rollouts, incidents, *measure(rollbot, repeat)))
            finally:
                rollbot.db.dispose()
    base_ms = results[0][2]
    for rollouts, incidents, ms, statements, messages in results:
        ratio = ms / base_ms if base_ms else float("nan")
        print(
            f"[digest] {kind} {rollouts:,} rollouts, {incidents:,} incidents: "
            f"{ms:,.0f} ms to build ({ratio:.1f}x the baseline), "
            f"{statements} SQL statements, {messages} Slack message(s)"
        )
    same = len({r[3] for r in results}) == 1
    print(
        f"[digest] {kind} statements: "
        + ("the same at every size" if same else "GREW with the data")
    )
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rollouts", type=int, default=1000)
    parser.add_argument("--incidents", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100 rollouts, 1,000 incidents")
    args = parser.parse_args()
    if args.quick:
        args.rollouts, args.incidents, args.repeat = 100, 1000, 1
    # The baseline first, measured the same way in the same run.
    sizes = [(10, 10), (args.rollouts, args.incidents)]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "postgresql"):
            ok = run(kind, Path(tmp), sizes, args.repeat) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
