"""Automatic checks of checklist items: HTTP 2xx, TLS certificate lifetime, a command's exit
status, a metric within a threshold. Each returns (passed, detail) and never raises."""

from __future__ import annotations

import shlex
import socket
import ssl
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from bot.domain.checklist import Probe
from bot.domain.triggers import MetricSource

MetricQuery = Callable[[str, MetricSource], float | None]
"""Runs a metric query where its source says and returns its current value (None when
there is no data)."""

FlagExists = Callable[[str], bool]
"""True while the flag system still has the flag (raises when it cannot be asked)."""

NO_METRICS = "no metrics provider configured"


def run_probe(
    probe: Probe,
    now: datetime,
    query: MetricQuery | None = None,
    *,
    flag_key: str = "",
    flag_exists: FlagExists | None = None,
) -> tuple[bool, str]:
    """Run one probe; (True, detail) when it passes. `flag_key` is the rollout's flag."""
    try:
        if probe.flag_removed:
            return _flag_removed(flag_key, flag_exists)
        if probe.http:
            return _http(probe.http, probe.timeout_delta.total_seconds())
        if probe.tls:
            return _tls(probe.tls, probe.min_days, probe.timeout_delta.total_seconds(), now)
        if probe.command:
            return _command(probe.command, probe.timeout_delta.total_seconds())
        assert probe.metric is not None
        return _metric(probe, query)
    except Exception as exc:  # a probe must report, never crash the scheduler
        return False, f"{type(exc).__name__}: {exc}"[:300]


def _http(url: str, timeout: float) -> tuple[bool, str]:
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        return False, f"GET {url} failed: {type(exc).__name__}: {exc}"[:300]
    ok = 200 <= response.status_code < 300
    return ok, f"GET {url} answered {response.status_code}"


def _split_host(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    if host and port.isdigit():
        return host, int(port)
    return target, 443


def _tls(target: str, min_days: int, timeout: float, now: datetime) -> tuple[bool, str]:
    host, port = _split_host(target)
    context = ssl.create_default_context()
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            context.wrap_socket(sock, server_hostname=host) as tls,
        ):
            cert = tls.getpeercert()
    except (OSError, ssl.SSLError) as exc:
        return False, f"TLS to {host}:{port} failed: {exc}"[:300]
    not_after = str((cert or {}).get("notAfter", ""))
    if not not_after:
        return False, f"{host}:{port} sent no certificate expiry"
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC)
    days = (expires - now).total_seconds() / 86400
    ok = days > min_days
    return ok, f"certificate of {host} valid for {days:.0f} more days (needs > {min_days})"


def _command(command: str, timeout: float) -> tuple[bool, str]:
    try:
        done = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return False, f"`{command}` did not finish within {timeout:.0f} s"
    except OSError as exc:
        return False, f"`{command}` could not run: {exc.strerror or exc}"
    tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
    detail = f"`{command}` exited {done.returncode}" + (f": {tail[0][:200]}" if tail[0] else "")
    return done.returncode == 0, detail


def _metric(probe: Probe, query: MetricQuery | None) -> tuple[bool, str]:
    if query is None:
        return False, NO_METRICS
    value = query(str(probe.metric), probe.source)
    if value is None:
        return False, f"`{probe.metric}` returned no data"
    if probe.min is not None and value < probe.min:
        return False, f"`{probe.metric}` = {value:g}, below the minimum {probe.min:g}"
    if probe.max is not None and value > probe.max:
        return False, f"`{probe.metric}` = {value:g}, above the maximum {probe.max:g}"
    return True, f"`{probe.metric}` = {value:g}, within bounds"


def _flag_removed(flag_key: str, flag_exists: FlagExists | None) -> tuple[bool, str]:
    if flag_exists is None:
        return False, "no flag system to ask"
    if flag_exists(flag_key):
        return False, f"the flag `{flag_key}` still exists in the flag system"
    return True, f"the flag `{flag_key}` is gone from the flag system"
