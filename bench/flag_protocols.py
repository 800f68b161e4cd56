"""Flag evaluation for applications, rollbot against a real Unleash on the same machine.

    python3 -m bench.flag_protocols            # 10 s per endpoint, 50 flags
    python3 -m bench.flag_protocols --quick    # 1 s per endpoint, 10 flags

Both servers run as their own processes on 127.0.0.1, started the same way the tests start
them: `rollbot serve` (SQLite, the builtin flag store) and Unleash from npm
(tests/unleash/install.sh and launch.mjs, a fresh PostgreSQL database). Each gets the same
flags (a 25% flexibleRollout on the flag key). Then, for each endpoint, 50 concurrent
clients send requests for a fixed time with a different user id each time, and the
requests per second and the p99 latency are printed:

- rollbot `POST /ofrep/v1/evaluate/flags/{key}` (OFREP single) and
  `POST /ofrep/v1/evaluate/flags` (OFREP bulk), each next to Unleash's `GET /api/frontend`
  (every flag evaluated for one context, what Unleash offers remote clients);
- rollbot `GET /api/client/features` next to Unleash's `GET /api/client/features`.

Ratios are rollbot / Unleash (above 1: rollbot serves more requests per second, or has the
longer p99). Without node, npm or PostgreSQL the Unleash lines say "skipped" and why.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
UNLEASH_DIR = REPO / "tests" / "unleash"
PLANS = REPO / "config" / "plans"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
CONCURRENCY = 50
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
        proc.terminate()
        proc.wait(timeout=15)


@contextmanager
def unleash_server(tmp: Path) -> Iterator[str]:
    """A real Unleash (npm) on a free port with its own PostgreSQL database."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node and npm are not installed")
    install = subprocess.run(
        ["bash", str(UNLEASH_DIR / "install.sh")], capture_output=True, text=True, timeout=900
    )
    if install.returncode != 0:
        raise RuntimeError(f"installing unleash-server failed: {install.stderr[-500:]}")
    import psycopg

    name = f"unleash_bench_{uuid.uuid4().hex}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        raise RuntimeError(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}") from None
    admin.execute(f'CREATE DATABASE "{name}"')
    log = (tmp / "unleash.log").open("w")
    proc = subprocess.Popen(
        ["node", str(UNLEASH_DIR / "launch.mjs"), install.stdout.strip().splitlines()[-1]],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={
            **os.environ,
            "UNLEASH_TEST_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
            "INIT_ADMIN_API_TOKENS": UNLEASH_ADMIN,
            "INIT_CLIENT_API_TOKENS": UNLEASH_CLIENT,
            "INIT_FRONTEND_API_TOKENS": UNLEASH_FRONTEND,
        },
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"Unleash did not start: {(tmp / 'unleash.log').read_text()[-500:]}")
        address = httpx.Response(200, content=line).json()
        url = f"http://{address['host']}:{address['port']}"
        wait_for(f"{url}/health", 60, lambda r: r.json().get("health") == "GOOD")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


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


async def load(
    build: Callable[[int], httpx.Request], seconds: float, client: httpx.AsyncClient
) -> Figure:
    """50 clients sending requests for `seconds`; each request's latency is kept."""
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
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - began
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]
    return Figure(len(latencies) / elapsed, p99 * 1000)


async def measure(
    url: str, build: Callable[[httpx.AsyncClient, int], httpx.Request], seconds: float
) -> Figure:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await load(lambda i: build(client, i), min(1.0, seconds / 5), client)  # warm up
        return await load(lambda i: build(client, i), seconds, client)


def line(name: str, figure: Figure) -> str:
    return f"[flag_protocols] {name}: {figure.rps:,.0f} req/s, p99 {figure.p99_ms:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s per endpoint, 10 flags")
    args = parser.parse_args()
    seconds, count = (1.0, 10) if args.quick else (10.0, 50)
    keys = [f"bench-{i}" for i in range(count)]
    read = {"Authorization": f"Bearer {CLIENT_TOKEN}"}

    def ofrep_one(c: httpx.AsyncClient, i: int) -> httpx.Request:
        body = {"context": {"targetingKey": f"user-{i}"}}
        return c.build_request(
            "POST", f"/ofrep/v1/evaluate/flags/{keys[i % count]}", json=body, headers=read
        )

    def ofrep_bulk(c: httpx.AsyncClient, i: int) -> httpx.Request:
        body = {"context": {"targetingKey": f"user-{i}"}}
        return c.build_request("POST", "/ofrep/v1/evaluate/flags", json=body, headers=read)

    def rollbot_features(c: httpx.AsyncClient, _i: int) -> httpx.Request:
        return c.build_request(
            "GET", "/api/client/features", headers={"Authorization": CLIENT_TOKEN}
        )

    def unleash_frontend(c: httpx.AsyncClient, i: int) -> httpx.Request:
        return c.build_request(
            "GET",
            "/api/frontend",
            params={"userId": f"user-{i}"},
            headers={"Authorization": UNLEASH_FRONTEND},
        )

    def unleash_features(c: httpx.AsyncClient, _i: int) -> httpx.Request:
        return c.build_request(
            "GET", "/api/client/features", headers={"Authorization": UNLEASH_CLIENT}
        )

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        rollbot = stack.enter_context(rollbot_server(Path(tmp)))
        unleash: str | None = None
        try:
            unleash = stack.enter_context(unleash_server(Path(tmp)))
        except Exception as exc:  # the baseline is missing: say why, still measure rollbot
            why = str(exc)
        make_flags(rollbot, unleash, keys)
        figures = {
            "rollbot OFREP single": asyncio.run(measure(rollbot, ofrep_one, seconds)),
            "rollbot OFREP bulk": asyncio.run(measure(rollbot, ofrep_bulk, seconds)),
            "rollbot /api/client/features": asyncio.run(
                measure(rollbot, rollbot_features, seconds)
            ),
        }
        for name, figure in figures.items():
            print(line(name, figure))
        if unleash is None:
            print(f"[flag_protocols] Unleash: skipped ({why})")
            return 0
        frontend = asyncio.run(measure(unleash, unleash_frontend, seconds))
        features = asyncio.run(measure(unleash, unleash_features, seconds))
        print(line("Unleash /api/frontend", frontend))
        print(line("Unleash /api/client/features", features))
        for name, ours, theirs in (
            ("OFREP single / Unleash frontend", figures["rollbot OFREP single"], frontend),
            ("OFREP bulk / Unleash frontend", figures["rollbot OFREP bulk"], frontend),
            (
                "client features / Unleash client features",
                figures["rollbot /api/client/features"],
                features,
            ),
        ):
            print(
                f"[flag_protocols] ratio {name}: req/s x{ours.rps / theirs.rps:.2f}, "
                f"p99 x{ours.p99_ms / theirs.p99_ms:.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
