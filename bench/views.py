"""The cost of reading rollouts: `RolloutService.active()` (every card of `/rollout list`, the
dashboard, the metrics watcher's listing) at 100 and 1,000 active rollouts of the shipped
plan, held at its five-role sign-off gate, on SQLite.

    python3 -m bench.views            # 100 and 1,000 rollouts
    python3 -m bench.views --quick    # 20 and 100 (the smoke test's)

[views]  time of one `active()` (best of --repeat) and the SQL statements it issued, two ways
         in one run on the same database, order alternated: `now` (plans validated once per
         content, the chains of all cards read together) and `baseline` (each row's plan
         validated again, each card's chain read on its own, as before); then the ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

# Benchmark this checkout, not whichever one an editable install points at.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event

from bench.rollouts import figure
from bot.clock import ManualClock
from bot.config.settings import load_settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.domain.plan import STORED_PLANS, Plan
from bot.services.extensions import Extensions
from bot.services.rollouts.reading import RolloutReader
from bot.services.rollouts.views import RolloutView
from tests.conftest import GATES, SHIPPED_ROLES

PLANS = Path(__file__).resolve().parent.parent / "config" / "plans"
CONFIG = f"""\
rollouts:
  plans_dir: {PLANS}
  default_plan: realtime-features
"""
CONFIG += SHIPPED_ROLES + GATES
ACTOR = Actor("bench", Via.SHELL)


def gated_rollbot(workdir: Path, clock: ManualClock) -> Rollbot:
    """A rollbot on a fresh SQLite file with the shipped plan and its sign-off gate."""
    config = workdir / "rollbot.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    url = f"sqlite:///{workdir / f'views-{time.monotonic_ns()}.db'}"
    return build(load_settings(env={"DATABASE_URL": url}, config_path=config), clock)


class Baseline:
    """While entered: every plan validated per row, as before."""

    def __enter__(self) -> None:
        STORED_PLANS.get = lambda data, key=None: Plan.model_validate(data)  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        del STORED_PLANS.get


def without_preloads(rollbot: Rollbot) -> Callable[[], list[RolloutView]]:
    """`active()` of the same rollouts, features and database, but with no preloading (the
    annotators read each card's data one rollout at a time, as before); a reader of its
    own, so the built rollbot is left as it is."""
    ctx = replace(rollbot.rollouts.ctx, preloads=Extensions("preloads"))
    return RolloutReader(ctx).active


def measure(
    rollbot: Rollbot, active: Callable[[], list[RolloutView]], repeat: int
) -> tuple[float, int]:
    """Best time of `repeat` calls of `active`, and the statements of one."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    best = float("inf")
    for i in range(repeat):
        if i == 0:
            event.listen(rollbot.db.engine, "before_cursor_execute", count)
        started = time.perf_counter()
        active()
        best = min(best, time.perf_counter() - started)
        if i == 0:
            event.remove(rollbot.db.engine, "before_cursor_execute", count)
    return best, len(seen)


def main(argv: list[str] | None = None) -> int:
    """Print both ways side by side for each size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [20, 100] if args.quick else [100, 1000]
    with tempfile.TemporaryDirectory(prefix="rollbot-bench-") as tmp:
        for size in sizes:
            rollbot = gated_rollbot(Path(tmp), ManualClock())
            try:
                for i in range(size):
                    rollbot.rollouts.start(f"feature-{i:05d}", None, ACTOR)
                rollbot.rollouts.active()  # warm: the plan's first validation, the pool
                got: dict[str, tuple[float, int]] = {}
                for name in ("baseline", "now") if size % 2 else ("now", "baseline"):
                    if name == "baseline":
                        with Baseline():
                            got[name] = measure(rollbot, without_preloads(rollbot), args.repeat)
                    else:
                        got[name] = measure(rollbot, rollbot.rollouts.active, args.repeat)
            finally:
                rollbot.db.dispose()
            for name in ("baseline", "now"):
                elapsed, statements = got[name]
                figure(
                    "views",
                    f"sqlite {size:>5} rollouts {name:<8}: active() {elapsed * 1000:8.1f} ms, "
                    f"{statements} SQL statements",
                )
            (base_s, base_n), (now_s, now_n) = got["baseline"], got["now"]
            figure(
                "views",
                f"sqlite {size:>5} rollouts ratio baseline / now: time x{base_s / now_s:.1f}, "
                f"statements x{base_n / now_n:.1f}",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
