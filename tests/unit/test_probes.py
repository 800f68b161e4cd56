"""Probes of checklist items against real local things: an HTTP server, commands, a closed
port, and an injected metric query."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.domain.checklist import Probe
from bot.providers.probes import NO_METRICS, run_probe

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def test_http_probe_passes_on_2xx_only(server: str) -> None:
    assert run_probe(Probe(http=f"{server}/ok"), NOW) == (True, f"GET {server}/ok answered 200")
    passed, detail = run_probe(Probe(http=f"{server}/down"), NOW)
    assert not passed and "503" in detail


def test_http_and_tls_probes_report_unreachable_hosts() -> None:
    passed, detail = run_probe(Probe(http="http://127.0.0.1:9/x", timeout="2s"), NOW)
    assert not passed and "failed" in detail
    passed, detail = run_probe(Probe(tls="127.0.0.1:9", timeout="2s"), NOW)
    assert not passed and "TLS to 127.0.0.1:9 failed" in detail


def test_command_probe_exit_status_and_timeout() -> None:
    ok = f'{sys.executable} -c "print(42)"'
    assert run_probe(Probe(command=ok), NOW) == (True, f"`{ok}` exited 0: 42")
    bad = f'{sys.executable} -c "raise SystemExit(3)"'
    assert run_probe(Probe(command=bad), NOW) == (False, f"`{bad}` exited 3")
    slow = f'{sys.executable} -c "import time; time.sleep(5)"'
    passed, detail = run_probe(Probe(command=slow, timeout="1s"), NOW)
    assert not passed and "did not finish within 1 s" in detail
    passed, detail = run_probe(Probe(command="no-such-program-here"), NOW)
    assert not passed and "could not run" in detail


def test_metric_probe_uses_the_injected_query() -> None:
    probe = Probe(metric="error_rate", max=0.001)
    assert run_probe(probe, NOW) == (False, NO_METRICS)
    assert run_probe(probe, NOW, lambda q, _source: 0.0005)[0]
    passed, detail = run_probe(probe, NOW, lambda q, _source: 0.02)
    assert not passed and "above the maximum" in detail
    assert run_probe(probe, NOW, lambda q, _source: None) == (
        False,
        "`error_rate` returned no data",
    )
    floor = Probe(metric="connection_success", min=0.99)
    assert not run_probe(floor, NOW, lambda q, _source: 0.9)[0]

    def broken(query: str, _source: object) -> float | None:
        raise RuntimeError("provider down")

    assert run_probe(probe, NOW, broken) == (False, "RuntimeError: provider down")
