"""The benchmarks still run: `bench/rollouts.py --quick` prints every figure (and its
replicas figure, a correctness check, says each rollout advanced exactly once)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Each benchmark is a CPU-bound subprocess that runs for seconds on a quiet machine; several
# at once on different xdist workers would fill every core together and stretch each other
# (and the figures they print are meant to be read alone), so they share one worker. The
# pytest timeout matches their subprocess timeout: a machine busy with other work makes
# them slow, not wrong.
pytestmark = [pytest.mark.xdist_group("bench"), pytest.mark.timeout(300)]


def _quick(module: str, timeout: int = 300) -> str:
    """Run `python -m bench.<module> --quick` from the repository; its output."""
    result = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", "--quick"],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_quick_bench_prints_every_figure() -> None:
    out = _quick("rollouts")
    lines = out.splitlines()
    # PostgreSQL's lines are there either way: measured, or "skipped" with the reason.
    for name in (
        "[advance_due] sqlite",
        "[advance_due] postgresql",
        "[bucketing]",
        "[replicas] sqlite",
        "[replicas] postgresql",
    ):
        assert any(line.startswith(name) for line in lines), f"no {name}:\n{out}"
    ticks = [line for line in lines if line.startswith("[advance_due]") and " due: " in line]
    # Each size: the batched tick and the one-by-one baseline, their statements and ratios.
    assert ticks and all("batched" in t and "fewer statements" in t for t in ticks), ticks
    replicas = [line for line in lines if line.startswith("[replicas]") and "skipped" not in line]
    assert all(line.endswith(": each exactly once") for line in replicas), out


def test_quick_memory_bench_prints_both_figures() -> None:
    out = _quick("memory")
    assert "[memory] RSS after 200 commands:" in out
    assert "[memory] RSS after 1,000 commands:" in out
    assert "[memory] request ledger after 1,000 commands:" in out, out
    assert "(the last day's: bounded)" in out, out


def test_quick_digest_bench_prints_every_figure() -> None:
    out = _quick("digest")
    lines = out.splitlines()
    for name in (
        "[digest] sqlite 10 rollouts, 10 incidents:",
        "[digest] sqlite 100 rollouts, 1,000 incidents:",
        "[digest] sqlite statements: the same at every size",
    ):
        assert any(line.startswith(name) for line in lines), f"no {name}:\n{out}"
    assert any(line.startswith("[digest] postgresql") for line in lines), out


@pytest.mark.timeout(600)  # it starts a real Unleash (npm) as its baseline
def test_quick_flag_protocols_bench_prints_every_figure() -> None:
    out = _quick("flag_protocols", timeout=600)
    assert "[flag_protocols] load from " in out, out
    for name in (
        "rollbot /flags/{key}/evaluate at 20",
        "rollbot OFREP single",
        "rollbot OFREP bulk",
        "rollbot /api/client/features",
    ):
        assert f"[flag_protocols] {name}: " in out and " req/s, p99 " in out, out
    # The baseline is measured, with its ratios, or skipped saying why.
    if "[flag_protocols] Unleash: skipped (" not in out:
        for name in ("/api/frontend at 20", "/api/frontend at 50", "/api/client/features"):
            assert f"[flag_protocols] Unleash {name}: " in out, out
        assert out.count("[flag_protocols] ratio ") == 4, out


def test_quick_reads_bench_prints_both_ways_and_the_ratio() -> None:
    out = _quick("reads")
    assert "[reads] sqlite write-lock" in out and "[reads] sqlite read-only" in out, out
    assert "[reads] ratio write-lock / read-only: p50 x" in out, out


def test_quick_views_bench_prints_both_ways_and_the_ratio() -> None:
    out = _quick("views")
    for size in (20, 100):
        assert f"[views] sqlite {size:>5} rollouts baseline: active()" in out, out
        assert f"[views] sqlite {size:>5} rollouts now     : active()" in out, out
        assert f"[views] sqlite {size:>5} rollouts ratio baseline / now: time x" in out, out


def test_quick_startup_bench_prints_both_medians_and_the_ratio() -> None:
    out = _quick("startup")
    assert "[startup] rollbot --help" in out, out
    assert "[startup] import slack_bolt, sqlalchemy, starlette" in out, out
    assert "[startup] ratio rollbot --help / reference: x" in out, out


def test_quick_acks_bench_prints_both_apps_the_ratio_and_every_reply() -> None:
    out = _quick("acks")
    assert "[acks] round 1: rollbot p50 " in out and "; bare Bolt p50 " in out, out
    assert "[acks] rollbot   120 acks (1 x 120 at 40 concurrent): p50 " in out, out
    assert "[acks] bare Bolt 120 acks (1 x 120 at 40 concurrent): p50 " in out, out
    assert "[acks] ratio rollbot / bare Bolt: p50 x" in out, out
    # Every command and click rollbot acked got its reply (the script exits 1 otherwise).
    assert "[acks] replies delivered: 120/120 (" in out, out
