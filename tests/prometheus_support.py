"""A real Prometheus (Debian's `prometheus` binary) on 127.0.0.1, scraping every second a
small exporter whose error share the caller sets. Used by tests and by bench/."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bot.providers.metrics.base import MetricsProviderError
from bot.providers.metrics.prometheus import PrometheusProvider
from tests.process_support import stop_process

REQUESTS_PER_SECOND = 200.0
ERROR_RATIO = "sum(rate(app_errors_total[5s])) / sum(rate(app_requests_total[5s]))"


class Exporter:
    """Counters growing at REQUESTS_PER_SECOND, a settable share of which are errors."""

    def __init__(self) -> None:
        self.error_ratio = 0.0
        self.changed_at = time.monotonic()
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._requests = 0.0
        self._errors = 0.0
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set_error_ratio(self, ratio: float) -> None:
        """From now on, this share of requests fails."""
        with self._lock:
            self._advance()
            self.error_ratio = ratio
            self.changed_at = time.monotonic()

    def _advance(self) -> None:
        now = time.monotonic()
        elapsed, self._last = now - self._last, now
        self._requests += REQUESTS_PER_SECOND * elapsed
        self._errors += REQUESTS_PER_SECOND * elapsed * self.error_ratio

    def render(self) -> str:
        """The exposition text, counters brought up to now."""
        with self._lock:
            self._advance()
            return (
                "# TYPE app_requests_total counter\n"
                f"app_requests_total {self._requests:.3f}\n"
                "# TYPE app_errors_total counter\n"
                f"app_errors_total {self._errors:.3f}\n" + self._common_names()
            )

    def _common_names(self) -> str:
        """The same traffic under the metric names the shipped plan's queries use (Prometheus
        client defaults, cAdvisor, kube-state-metrics), healthy apart from the error share:
        P95 between the 50 and 100 ms buckets, 40 ms average, 99.5% connection success,
        40% of the memory limit, half a core of one, no state-sync conflicts."""
        total, errors = self._requests, self._errors
        pod = 'namespace="prod",pod="websocket-server-1",container="websocket-server"'
        lines = [
            f'http_requests_total{{code="500"}} {errors:.3f}',
            f'http_requests_total{{code="200"}} {total - errors:.3f}',
        ]
        for le, share in (("0.05", 0.9), ("0.1", 0.97), ("0.25", 0.99), ("0.5", 1), ("+Inf", 1)):
            lines.append(f'http_request_duration_seconds_bucket{{le="{le}"}} {total * share:.3f}')
        lines += [
            f"http_request_duration_seconds_sum {total * 0.04:.3f}",
            f"http_request_duration_seconds_count {total:.3f}",
            f'websocket_connections_total{{result="success"}} {total * 0.995:.3f}',
            f'websocket_connections_total{{result="failure"}} {total * 0.005:.3f}',
            f"container_memory_working_set_bytes{{{pod}}} 400000000",
            f'kube_pod_container_resource_limits{{{pod},resource="memory"}} 1000000000',
            f"container_cpu_usage_seconds_total{{{pod}}} {total / REQUESTS_PER_SECOND * 0.5:.3f}",
            f'kube_pod_container_resource_limits{{{pod},resource="cpu"}} 1',
            "realtime_sync_conflicts_total 0",
        ]
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def binary() -> str | None:
    """The prometheus binary, if installed."""
    return shutil.which("prometheus")


@contextmanager
def running_prometheus(home: Path, exporter: Exporter) -> Iterator[str]:
    """Start Prometheus on a free loopback port scraping `exporter`; yield its URL once it has
    scraped twice (its first scrape comes ~5 s after start even at a 1 s interval)."""
    path = binary()
    if path is None:
        raise FileNotFoundError("prometheus is not installed (apt-get install -y prometheus)")
    config = home / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: app\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{exporter.port}']\n",
        encoding="utf-8",
    )
    port = free_port()
    log = (home / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            path,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    provider = PrometheusProvider(url, timeout=2)

    def scraped_twice() -> bool:
        try:
            value = provider.query("sum(count_over_time(up[1m]))")
        except MetricsProviderError:
            return False
        return value is not None and value >= 2

    try:
        deadline = time.monotonic() + 60
        while not scraped_twice():
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {proc.returncode}; see {log.name}")
            if time.monotonic() > deadline:
                raise TimeoutError("prometheus did not scrape within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        provider.close()
        stop_process(proc, 10)
        log.close()


def wait_for_value(
    provider: PrometheusProvider, check: Callable[[float], bool], timeout: float = 30
) -> float:
    """Wait until Prometheus's own answer for ERROR_RATIO satisfies `check`."""
    deadline = time.monotonic() + timeout
    while True:
        value = provider.query(ERROR_RATIO)
        if value is not None and check(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"error ratio stayed at {value}")
        time.sleep(0.1)
