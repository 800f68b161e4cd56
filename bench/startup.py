"""How long `rollbot --help` takes to start, against importing the libraries rollbot is
built on (slack_bolt, sqlalchemy and starlette) and nothing else.

    python3 -m bench.startup            # 9 runs of each
    python3 -m bench.startup --quick    # 3 runs of each (the smoke test's)

[startup]  each command as a fresh subprocess of this Python, the two interleaved (rollbot,
           reference, rollbot, ...) so a busy machine slows both alike; the median wall time
           of each and the ratio rollbot / reference. The target is at most 1.3.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "rollbot --help": [sys.executable, "-m", "bot.cli_main", "--help"],
    "import slack_bolt, sqlalchemy, starlette": [
        sys.executable,
        "-c",
        "import slack_bolt, sqlalchemy, starlette",
    ],
}


def run_once(command: list[str]) -> float:
    """Wall time of one run of `command`; raises when it fails."""
    # PYTHONDONTWRITEBYTECODE dropped: rollbot's modules are compiled once, in the warm-up
    # run, as an installed rollbot's are (the libraries of the reference come compiled).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "ROLLBOT_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    # This checkout, not whichever one an editable install points at.
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=REPO_ROOT)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Run both, interleaved; print the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs of each")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    runs = 3 if args.quick else args.runs
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for command in COMMANDS.values():
        run_once(command)  # warm the file cache (and .pyc files) before measuring
    for i in range(runs):
        order = list(COMMANDS) if i % 2 == 0 else list(reversed(COMMANDS))
        for name in order:
            times[name].append(run_once(COMMANDS[name]))
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        print(f"[startup] {name:<42} median of {runs}: {median * 1000:7.1f} ms", flush=True)
    ratio = medians["rollbot --help"] / medians["import slack_bolt, sqlalchemy, starlette"]
    print(f"[startup] ratio rollbot --help / reference: x{ratio:.2f} (target: at most x1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
