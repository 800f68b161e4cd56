"""Commands a dead rollbot left running: found by the rollback id in their environment.

Each command step runs with `ROLLBOT_ROLLBACK_ID` set to the rollback's run marker (its id,
with a fingerprint of the database so that two rollbots on one host never touch each other's
commands). When rollbot is killed (`kill -9`)
mid-step, its child keeps running; before a resumed rollback goes on, the resumer stops
what is left of the dead run, so two copies of a step never race. Linux only (`/proc`); on
other systems nothing is found.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

MARKER = "ROLLBOT_ROLLBACK_ID"
PROC = Path("/proc")


def _runs(pid_dir: Path, marker: bytes) -> bool:
    try:
        environ = (pid_dir / "environ").read_bytes()
    except OSError:  # gone already, or not ours to read
        return False
    return marker in environ.split(b"\0")


def run_marker(database_fingerprint: str, rollback_id: int) -> str:
    """What a rollback's commands carry in `ROLLBOT_ROLLBACK_ID`."""
    return f"{database_fingerprint}-{rollback_id}"


def leftover_pids(run: str, proc: Path = PROC) -> list[int]:
    """Processes still running a command of the rollback `run` marks (never this one)."""
    marker = f"{MARKER}={run}".encode()
    found: list[int] = []
    for entry in proc.iterdir() if proc.is_dir() else []:
        if entry.name.isdigit() and int(entry.name) != os.getpid() and _runs(entry, marker):
            found.append(int(entry.name))
    return sorted(found)


def stop_leftovers(run: str, proc: Path = PROC) -> list[int]:
    """SIGKILL every leftover process of the rollback (and its process group); return them."""
    stopped: list[int] = []
    for pid in leftover_pids(run, proc):
        try:
            group = os.getpgid(pid)
            if group != os.getpgrp():  # a step's own session, never rollbot's
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
            stopped.append(pid)
        except ProcessLookupError:
            continue
    return stopped
