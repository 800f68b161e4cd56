"""Time from a metric crossing its threshold to the flag being off.

A real Prometheus scrapes an exporter every 1 s; rollbot evaluates its triggers every 1 s (a
background loop calling the evaluation job, as the scheduler would); the trigger fires after
2 consecutive breaches. Each trial raises the exporter's error share at t0 and measures until
the flag provider says the flag is off. Prints every trial, the median and the p95.

    python3 -m bench.rollback_latency [--trials 20]

Target (issue 4): under 2 x (scrape + evaluation interval) x consecutive-breach count
= 2 x (1 s + 1 s) x 2 = 8 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bot.config.settings import load_settings
from bot.container import build
from bot.domain.actor import Actor, Via
from bot.providers.metrics.prometheus import PrometheusProvider
from tests.prometheus_support import ERROR_RATIO, Exporter, running_prometheus, wait_for_value

SCRAPE_S, EVALUATION_S, CONSECUTIVE = 1.0, 1.0, 2
THRESHOLD = 0.05

PLAN = f"""
name: bench
title: Bench
phases:
  - id: only
    name: Only
    steps:
      - name: half
        percentage: 50
        bake: 1d
      - name: all
        percentage: 100
triggers:
  - name: error-rate
    query: {ERROR_RATIO}
    comparison: ">"
    threshold: {THRESHOLD}
    consecutive: {CONSECUTIVE}
    missing_data: ignore
runbook:
  - name: Turn the flag off
    kind: flag
"""


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "plans").mkdir()
        (home / "plans" / "bench.yaml").write_text(PLAN, encoding="utf-8")
        exporter = Exporter()
        try:
            with running_prometheus(home, exporter) as url:
                return run(home, url, exporter, args.trials)
        finally:
            exporter.close()


def run(home: Path, url: str, exporter: Exporter, trials: int) -> int:
    config = home / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {home / 'plans'}\n"
        f"metrics:\n  provider: prometheus\n  url: {url}\n"
        f"  evaluation_seconds: {int(EVALUATION_S)}\n",
        encoding="utf-8",
    )
    settings = load_settings(env={"DATABASE_URL": f"sqlite:///{home}/bench.db"}, config_path=config)
    rollbot = build(settings)
    stop = threading.Event()

    def evaluate_every_second() -> None:
        while not stop.is_set():
            started = time.monotonic()
            rollbot.watcher.evaluate()
            stop.wait(max(0.0, EVALUATION_S - (time.monotonic() - started)))

    loop = threading.Thread(target=evaluate_every_second, daemon=True)
    loop.start()
    checker = PrometheusProvider(url, timeout=2)
    latencies: list[float] = []
    try:
        for trial in range(1, trials + 1):
            exporter.set_error_ratio(0.0)
            wait_for_value(checker, lambda v: v < THRESHOLD / 10)
            flag = f"bench-{trial}"
            rollbot.rollouts.start(flag, "bench", Actor("bench", Via.SHELL))
            time.sleep(0.3 + (trial % 10) / 10)  # vary the phase against scrape and evaluation
            t0 = time.monotonic()
            exporter.set_error_ratio(0.5)
            while True:
                doc = rollbot.flags.get(flag)
                if doc is not None and not doc.enabled:
                    break
                if time.monotonic() - t0 > 60:
                    raise TimeoutError(f"trial {trial}: the flag was still on after 60 s")
                time.sleep(0.01)
            latencies.append(time.monotonic() - t0)
            print(f"trial {trial:2d}: flag off {latencies[-1]:.2f} s after the error rate rose")
    finally:
        stop.set()
        loop.join(timeout=10)
        checker.close()
        rollbot.db.dispose()
    target = 2 * (SCRAPE_S + EVALUATION_S) * CONSECUTIVE
    median, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    print(
        f"\n{len(latencies)} trials, scrape {SCRAPE_S:.0f} s, evaluation {EVALUATION_S:.0f} s, "
        f"{CONSECUTIVE} consecutive breaches: median {median:.2f} s, p95 {p95:.2f} s "
        f"(target < {target:.0f} s: {'met' if p95 < target else 'NOT met'})"
    )
    return 0 if p95 < target else 1


if __name__ == "__main__":
    raise SystemExit(main())
