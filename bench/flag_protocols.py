"""Flag evaluation for applications, rollbot against a real Unleash on the same machine.

    python3 -m bench.flag_protocols            # 3 rounds of 10 s per endpoint, 50 flags
    python3 -m bench.flag_protocols --quick    # 1 round of 1 s per endpoint, 10 flags

Both servers run as their own processes on 127.0.0.1, started the same way the tests start
them: `rollbot serve` (SQLite, the builtin flag store) and Unleash from npm
(tests/unleash/install.sh and launch.mjs, a fresh PostgreSQL database). Each gets the same
flags (a 25% flexibleRollout on the flag key). Then each pair of endpoints is loaded in
turn, rollbot's and Unleash's alternating which goes first in each round, by concurrent
clients sending requests for a fixed time with a different user id each time; the figures
printed are the medians over the rounds of requests per second and p99 latency:

- rollbot `GET /flags/{key}/evaluate` at 20 connections next to Unleash's `GET /api/frontend`
  at 20 (issue 9's measure);
- rollbot `POST /ofrep/v1/evaluate/flags/{key}` (OFREP single) and
  `POST /ofrep/v1/evaluate/flags` (OFREP bulk) at 50, each next to Unleash's
  `GET /api/frontend` (every flag evaluated for one context, what Unleash offers remote
  clients);
- rollbot `GET /api/client/features` next to Unleash's `GET /api/client/features`, at 50.

The load comes from wrk (Debian's package) when it is installed: a C load generator takes
little of the two cores the servers share. Without it, from httpx in this process (the
figures then say so; both servers pay the same client cost).

Ratios are rollbot / Unleash (above 1: rollbot serves more requests per second, or has the
longer p99). Without node, npm or PostgreSQL the Unleash lines say "skipped" and why.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.process_support import stop_process
from tests.unleash_support import unleash_server

REPO = Path(__file__).resolve().parent.parent
PLANS = REPO / "config" / "plans"
CONCURRENCY = 50
EVALUATE_CONNECTIONS = 20  # issue 9 measured /flags/{key}/evaluate at 20
CLIENT_TOKEN = "bench-client-token"
API_TOKEN = "bench-api-token"
UNLEASH_ADMIN = "*:*.bench-admin-token"
UNLEASH_CLIENT = "default:development.bench-client-token"
UNLEASH_FRONTEND = "default:development.bench-frontend-token"


@dataclass(frozen=True)
class Figure:
    """Requests per second and p99 latency (ms) of one endpoint."""

    rps: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float, ok: Callable[[httpx.Response], bool]) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ok(httpx.get(url, timeout=2)):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


@contextmanager
def rollbot_server(tmp: Path) -> Iterator[str]:
    """`rollbot serve` on a free port; yields its base URL."""
    config = tmp / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {PLANS}\nsignoff:\n  enforce_gates: false\n", encoding="utf-8"
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBOT_"))}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp}/rollbot.db",
            "ROLLBOT_CONFIG": str(config),
            "ROLLBOT_API_TOKEN": API_TOKEN,
            "ROLLBOT_CLIENT_TOKEN": CLIENT_TOKEN,
            "PYTHONPATH": str(REPO),
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli_main", "serve", "--port", str(port)],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/healthz", 60, lambda r: r.status_code == 200)
        yield url
    finally:
        stop_process(proc, 15)


def make_flags(rollbot: str, unleash: str | None, keys: list[str]) -> None:
    """The same 25% rollouts in both."""
    with httpx.Client(base_url=rollbot, timeout=10) as r:
        for key in keys:
            body = {"enabled": True, "rollout_percentage": 25}
            r.post(f"/flags/{key}", json=body, headers={"Authorization": f"Bearer {API_TOKEN}"})
    if unleash is None:
        return
    with httpx.Client(base_url=unleash, headers={"Authorization": UNLEASH_ADMIN}, timeout=10) as u:
        base = "/api/admin/projects/default/features"
        for key in keys:
            u.post(base, json={"name": key, "type": "release"}).raise_for_status()
            strategy = {
                "name": "flexibleRollout",
                "parameters": {"rollout": "25", "stickiness": "default", "groupId": key},
                "constraints": [],
            }
            u.post(
                f"{base}/{key}/environments/development/strategies", json=strategy
            ).raise_for_status()
            u.post(f"{base}/{key}/environments/development/on").raise_for_status()


@dataclass(frozen=True)
class Endpoint:
    """One endpoint under load. `path` and `body` are templates: `{flag}` stands for one of
    the flags (in turn), `{user}` for a different user id in each request."""

    name: str
    method: str
    path: str
    headers: dict[str, str]
    body: str | None = None
    connections: int = CONCURRENCY

    def fill(self, template: str, i: int, flags: list[str]) -> str:
        """The template for request `i` (as httpx sends it)."""
        return template.replace("{flag}", flags[i % len(flags)]).replace("{user}", f"user-{i}")

    def lua(self, flags: list[str]) -> str:
        """A wrk script sending this endpoint's requests, each for a random user id, and
        printing the request count, duration (µs), p99 (µs) and failures on one line."""

        def expression(template: str) -> str:
            parts = re.split(r"(\{flag\}|\{user\})", template)
            pieces = {
                "{flag}": f'"bench-" .. (i % {len(flags)})',
                "{user}": '"user-" .. i',
            }
            return " .. ".join(pieces.get(p, json.dumps(p)) for p in parts if p)

        headers = dict(self.headers)
        if self.body is not None:
            headers["Content-Type"] = "application/json"
        body = expression(self.body) if self.body is not None else "nil"
        return (
            "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items())
            + "request = function()\n"
            + "  local i = math.random(1, 1000000000)\n"
            + f'  return wrk.format("{self.method}", {expression(self.path)}, nil, {body})\n'
            + "end\n"
            + "done = function(summary, latency, requests)\n"
            + "  local e = summary.errors\n"
            + '  io.write(string.format("WRK %d %d %d %d\\n", summary.requests,\n'
            + "    summary.duration, latency:percentile(99),\n"
            + "    e.status + e.connect + e.read + e.write + e.timeout))\n"
            + "end\n"
        )


def wrk_load(url: str, endpoint: Endpoint, flags: list[str], seconds: float, tmp: Path) -> Figure:
    """`endpoint` under wrk for `seconds` (after a short warm-up)."""
    script = tmp / f"{endpoint.name.replace(' ', '_').replace('/', '_')}.lua"
    script.write_text(endpoint.lua(flags), encoding="utf-8")
    figure = Figure(0, 0)
    for length in (max(1.0, seconds / 5), seconds):  # warm up, then measure
        run = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{endpoint.connections}",
                f"-d{length:.0f}s",
                "--timeout",
                "30s",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=length + 60,
        )
        found = [ln for ln in run.stdout.splitlines() if ln.startswith("WRK ")]
        if run.returncode != 0 or not found:
            raise RuntimeError(f"wrk failed on {endpoint.name}: {run.stdout[-300:]}{run.stderr}")
        requests, duration_us, p99_us, errors = (int(x) for x in found[-1].split()[1:])
        if errors:
            raise RuntimeError(f"{endpoint.name}: {errors} of {requests} requests failed")
        figure = Figure(requests / (duration_us / 1e6), p99_us / 1000)
    return figure


async def load(
    build: Callable[[int], httpx.Request], seconds: float, client: httpx.AsyncClient, clients: int
) -> Figure:
    """`clients` concurrent clients sending requests for `seconds`; each latency kept."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        while time.perf_counter() < deadline:
            request = build(next(counter))
            start = time.perf_counter()
            response = await client.send(request)
            latencies.append(time.perf_counter() - start)
            if response.status_code >= 400:
                raise RuntimeError(f"{request.url}: {response.status_code} {response.text[:200]}")

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]
    return Figure(len(latencies) / elapsed, p99 * 1000)


async def httpx_load(url: str, endpoint: Endpoint, flags: list[str], seconds: float) -> Figure:
    """`endpoint` under httpx's async client for `seconds` (after a short warm-up)."""
    clients = endpoint.connections
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        def build(i: int) -> httpx.Request:
            body = endpoint.fill(endpoint.body, i, flags) if endpoint.body is not None else None
            headers = dict(endpoint.headers)
            if body is not None:
                headers["Content-Type"] = "application/json"
            return client.build_request(
                endpoint.method,
                endpoint.fill(endpoint.path, i, flags),
                content=body,
                headers=headers,
            )

        await load(build, min(1.0, seconds / 5), client, clients)
        return await load(build, seconds, client, clients)


def line(name: str, figure: Figure) -> str:
    return f"[flag_protocols] {name}: {figure.rps:,.0f} req/s, p99 {figure.p99_ms:.1f} ms"


def median(figures: list[Figure]) -> Figure:
    """The median requests per second and the median p99 over the rounds."""
    return Figure(
        statistics.median(f.rps for f in figures), statistics.median(f.p99_ms for f in figures)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s, 10 flags")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3; quick 1)")
    args = parser.parse_args()
    seconds, count = (1.0, 10) if args.quick else (10.0, 50)
    rounds = args.rounds or (1 if args.quick else 3)
    keys = [f"bench-{i}" for i in range(count)]
    read = {"Authorization": f"Bearer {CLIENT_TOKEN}"}

    context = '{"context": {"targetingKey": "{user}"}}'

    def frontend(connections: int) -> Endpoint:
        return Endpoint(
            f"Unleash /api/frontend at {connections}",
            "GET",
            "/api/frontend?userId={user}",
            {"Authorization": UNLEASH_FRONTEND},
            connections=connections,
        )

    pairs = [
        (
            Endpoint(
                "rollbot /flags/{key}/evaluate at 20",
                "GET",
                "/flags/{flag}/evaluate?userId={user}",
                {},
                connections=EVALUATE_CONNECTIONS,
            ),
            frontend(EVALUATE_CONNECTIONS),
        ),
        (
            Endpoint(
                "rollbot OFREP single",
                "POST",
                "/ofrep/v1/evaluate/flags/{flag}",
                read,
                context,
            ),
            frontend(CONCURRENCY),
        ),
        (
            Endpoint("rollbot OFREP bulk", "POST", "/ofrep/v1/evaluate/flags", read, context),
            frontend(CONCURRENCY),
        ),
        (
            Endpoint(
                "rollbot /api/client/features",
                "GET",
                "/api/client/features",
                {"Authorization": CLIENT_TOKEN},
            ),
            Endpoint(
                "Unleash /api/client/features",
                "GET",
                "/api/client/features",
                {"Authorization": UNLEASH_CLIENT},
            ),
        ),
    ]
    use_wrk = shutil.which("wrk") is not None
    print(
        "[flag_protocols] load from "
        + ("wrk, 2 threads" if use_wrk else "httpx in this process (wrk is not installed)")
        + f"; medians of {rounds} round(s) of {seconds:.0f} s"
    )

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        here = Path(tmp)
        rollbot = stack.enter_context(rollbot_server(here))
        unleash: str | None = None
        try:
            tokens = {
                "INIT_ADMIN_API_TOKENS": UNLEASH_ADMIN,
                "INIT_CLIENT_API_TOKENS": UNLEASH_CLIENT,
                "INIT_FRONTEND_API_TOKENS": UNLEASH_FRONTEND,
            }
            unleash = stack.enter_context(unleash_server(here, tokens))
        except Exception as exc:  # the baseline is missing: say why, still measure rollbot
            why = str(exc)
        make_flags(rollbot, unleash, keys)

        def measure(url: str, endpoint: Endpoint) -> Figure:
            if use_wrk:
                return wrk_load(url, endpoint, keys, seconds, here)
            return asyncio.run(httpx_load(url, endpoint, keys, seconds))

        results: dict[str, list[Figure]] = {}
        for round_number in range(rounds):
            for ours, theirs in pairs:
                runs = [(rollbot, ours)] + ([(unleash, theirs)] if unleash else [])
                if round_number % 2:
                    runs.reverse()  # neither server always goes first
                for url, endpoint in runs:
                    results.setdefault(endpoint.name, []).append(measure(url, endpoint))
        figures = {name: median(found) for name, found in results.items()}
        for ours, _ in pairs:
            print(line(ours.name, figures[ours.name]))
        if unleash is None:
            print(f"[flag_protocols] Unleash: skipped ({why})")
            return 0
        for name in dict.fromkeys(theirs.name for _, theirs in pairs):
            print(line(name, figures[name]))
        for ours, theirs in pairs:
            a, b = figures[ours.name], figures[theirs.name]
            print(
                f"[flag_protocols] ratio {ours.name} / {theirs.name}: "
                f"req/s x{a.rps / b.rps:.2f}, p99 x{a.p99_ms / b.p99_ms:.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
