"""`rollbot serve` as real processes of the checkout under test, for the tests that need a
process to kill: several replicas on one PostgreSQL, a database that restarts under them.

Each `Served` is one `rollbot serve` talking HTTP to the fake Slack Web API (tests/fakes)
and answering signed Slack requests on its own port; its output goes to a file (a pipe
nobody reads would stall it)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackRequestSender

REPO_ROOT = Path(__file__).resolve().parent.parent
# What `rollbot serve` prints once its socket listens (bot/cli.py).
LISTENING = re.compile(r"rollbot listening on http://[^\s]+:(\d+) ")
SIGNING_SECRET = "replica-signing-secret"
BOT_TOKEN = "xoxb-replica-test"
API_TOKEN = "replica-api-token"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Served:
    """One `rollbot serve` process."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        fake: FakeSlack,
        database_url: str,
        config: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log = workdir / f"{name}.log"
        self._port: int | None = None
        self._slack: SlackRequestSender | None = None
        self._response_url = fake.response_url
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBOT_"))}
        env.update(
            {
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": fake.api_url,
                "DATABASE_URL": database_url,
                "ROLLBOT_API_TOKEN": API_TOKEN,
                "ROLLBOT_CONFIG": str(config),
                # The checkout under test, not whichever one `pip install -e` points at.
                "PYTHONPATH": os.pathsep.join(
                    [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
                ),
                **(extra_env or {}),
            }
        )
        self._out = self.log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            # Port 0: the process binds a free port itself and prints it, so no other test
            # (another xdist worker) can take a port picked here before it listens.
            [sys.executable, "-m", "bot.cli_main", "serve", "--port", "0"],
            cwd=workdir,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    @property
    def port(self) -> int:
        """The port it listens on, as it printed it (waits for the line)."""
        if self._port is None:
            deadline = time.monotonic() + 40
            while (found := LISTENING.search(self.output)) is None:
                assert self.alive(), f"{self.name} exited:\n{self.output}"
                assert time.monotonic() < deadline, f"{self.name} did not listen:\n{self.output}"
                time.sleep(0.05)
            self._port = int(found.group(1))
        return self._port

    @property
    def base_url(self) -> str:
        """Its HTTP address."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def slack(self) -> SlackRequestSender:
        """Signed Slack requests to it."""
        if self._slack is None:
            self._slack = SlackRequestSender(self.base_url, SIGNING_SECRET, self._response_url)
        return self._slack

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    @property
    def output(self) -> str:
        """Everything it printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def wait_ready(self, timeout: float = 40.0) -> None:
        """Wait until /healthz answers 200."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.alive(), f"{self.name} exited:\n{self.output}"
            assert time.monotonic() < deadline, f"{self.name} did not come up:\n{self.output}"
            time.sleep(0.1)

    def kill9(self) -> None:
        """`kill -9`: no clean-up of any kind."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, as a service manager stops it; return the exit code (kill after
        `timeout`)."""
        if self.alive():
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"{self.name} ignored SIGTERM:\n{self.output}") from None

    def close(self) -> None:
        """Stop it if it still runs, and let go of its files."""
        try:
            if self.alive():
                self.proc.kill()
                self.proc.wait(timeout=10)
        finally:
            if self._slack is not None:
                self._slack.close()
            self._out.close()


def process_gone(pid: int) -> bool:
    """True when `pid` no longer runs (a zombie nobody reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def parent_of(pid: int) -> int | None:
    """The parent process id of `pid`, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def wait_until(what: str, done: object, timeout: float) -> None:
    """Poll `done()` every 50 ms until it is true (AssertionError naming `what`)."""
    assert callable(done)
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)


class Metrics:
    """An HTTP JSON metrics endpoint whose error ratio the test sets, and a status page
    webhook that is down (500) and counts what it was sent."""

    def __init__(self) -> None:
        self.errors = 0.0
        self.status_posts = 0
        metrics = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps({"errors_ratio": metrics.errors}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                metrics.status_posts += 1
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
