"""A real Unleash server (npm `unleash-server`) for the tests and the flag benchmark: installed
by tests/unleash/install.sh (cached outside the clone), started from tests/unleash/launch.mjs
on a free port of 127.0.0.1, with a fresh PostgreSQL database of its own that is dropped when
it stops."""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.process_support import stop_process

UNLEASH_DIR = Path(__file__).resolve().parent / "unleash"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


class UnleashMissing(RuntimeError):
    """node or npm is not installed here, so no Unleash can run (a reason to skip)."""


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The launcher's first stdout line (its address), or "" if it died or took too long."""
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    try:
        if selector.select(timeout):
            return proc.stdout.readline()
        return ""
    finally:
        selector.close()


def _wait_healthy(base_url: str, timeout: float) -> None:
    """Listening is not the same as ready: wait until /health says GOOD."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base_url}/health", timeout=2).json().get("health") == "GOOD":
                return
        except (httpx.HTTPError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"Unleash at {base_url}: /health never said GOOD in {timeout:.0f} s")
        time.sleep(0.2)


@contextmanager
def unleash_server(log_dir: Path, tokens: Mapping[str, str]) -> Iterator[str]:
    """A running Unleash; yields its base URL. `tokens` are Unleash's `INIT_*_API_TOKENS`
    variables (e.g. `{"INIT_ADMIN_API_TOKENS": "*:*.secret"}`); its log is
    `log_dir/unleash.log`. Raises `UnleashMissing` without node or npm, and RuntimeError
    (with the tail of npm's or Unleash's output) when it cannot be installed or started."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise UnleashMissing("node and npm are not installed: a real Unleash needs them")
    install = subprocess.run(
        ["bash", str(UNLEASH_DIR / "install.sh")], capture_output=True, text=True, timeout=900
    )
    if install.returncode != 0:
        raise RuntimeError(f"installing unleash-server failed:\n{install.stderr[-3000:]}")
    install_dir = install.stdout.strip().splitlines()[-1]

    import psycopg

    name = f"unleash_{uuid.uuid4().hex}"
    try:
        admin_db = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        raise RuntimeError(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}") from None
    admin_db.execute(f'CREATE DATABASE "{name}"')
    log_path = log_dir / "unleash.log"
    try:
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                ["node", str(UNLEASH_DIR / "launch.mjs"), install_dir],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env={
                    **os.environ,
                    "UNLEASH_TEST_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
                    **tokens,
                },
            )
        try:
            line = _read_line(proc, timeout=120)
            if not line:
                raise RuntimeError(f"Unleash did not start:\n{log_path.read_text()[-3000:]}")
            address = httpx.Response(200, content=line).json()
            base_url = f"http://{address['host']}:{address['port']}"
            _wait_healthy(base_url, 60)
            yield base_url
        finally:
            stop_process(proc, 15)
    finally:
        admin_db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_db.close()
