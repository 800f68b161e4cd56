"""The servers tests start as processes: `rollbot serve` of this checkout, and stopping it,
Prometheus or Unleash however the test ends."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
# What `rollbot serve` prints once its socket listens (bot/cli.py).
LISTENING = re.compile(r"rollbot listening on http://\S+:(\d+)")


def stop_process(proc: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds; either way it
    is reaped, so no server outlives the test that started it."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@dataclass
class CheckoutServer:
    """A `rollbot serve` of this checkout: where it answers, and what it printed (all of
    it once the block that started it has ended)."""

    url: str
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)


@contextmanager
def serving_checkout(
    cwd: Path, env: dict[str, str], host: str = "127.0.0.1"
) -> Iterator[CheckoutServer]:
    """`rollbot serve --port 0 --host <host>` of this checkout, run in `cwd` with the
    machine's environment less its SLACK_ and ROLLBOT_ variables, plus `env`. Yields once
    it listens and `/healthz` answers 200 (its URL is on 127.0.0.1); then SIGTERM, and the
    rest of what it printed is read."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBOT_"))}
    full |= {"PYTHONPATH": str(REPO_ROOT), **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli_main", "serve", "--port", "0", "--host", host],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env=full,
    )
    served = CheckoutServer("")
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        port = None
        while port is None:
            assert time.monotonic() < deadline, f"serve did not say it listens:\n{served.output}"
            line = proc.stdout.readline()
            assert line or proc.poll() is None, f"rollbot serve stopped:\n{served.output}"
            served.lines.append(line)
            match = LISTENING.search(line)
            port = match.group(1) if match else None
        served.url = f"http://127.0.0.1:{port}"
        while httpx.get(f"{served.url}/healthz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, f"rollbot serve is not healthy:\n{served.output}"
            time.sleep(0.1)
        yield served
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate(timeout=5)
        served.lines.append(out)
