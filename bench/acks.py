"""Acks under load: signed Slack requests at rollbot served by `rollbot serve`, against a bare
slack-bolt app that only acks, served the same way, in the same run.

    python3 -m bench.acks            # 3 rounds of 400 requests at each, 40 concurrent
    python3 -m bench.acks --quick    # 1 round of 120 requests at each (the smoke test's)

[acks]  rollbot is `rollbot serve` (HTTP mode, SQLite, the shipped plan, its scheduler
        running) as its own process; the reference is a slack-bolt `App` whose listeners
        only `ack()`, in its own process, behind the same `/slack/events` endpoint
        (bot/slack/http.py: signature and shape checks, then Bolt's dispatch in Starlette's
        thread pool) and the same uvicorn. Both talk to one fake Slack Web API
        (tests/fakes/slack_api.py) in a third process, so recording rollbot's replies costs
        the measuring process nothing. Each round fires the same mix at each app, one
        after the other, the order alternated from round to round: `/rollout status`,
        `/rollout advance` and Advance clicks on a private status card, one third each,
        over 10 rollouts. An ack's time is from sending the request to its HTTP response.
        Prints p50 / p99 of each and the ratio rollbot / bare Bolt (issue 9's target: p99
        at most x2), then checks every request rollbot acked had its reply posted to its
        response_url (the work after the ack all done), and how long after the round's last
        ack the last reply came.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# Benchmark this checkout, not whichever one an editable install points at.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from tests.fakes.slack_requests import SentRequest, SlackRequestSender, signed_headers
from tests.process_support import stop_process
from tests.serve_support import SIGNING_SECRET, Served, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
PLANS_DIR = REPO_ROOT / "config" / "plans"
ROLLOUTS = 10
CONFIG = f"""\
rollouts:
  plans_dir: {PLANS_DIR}
  default_plan: realtime-features
slack:
  rollout_channel: null
"""


# -- the fake Slack Web API, in a process of its own -----------------------------------------


def _fake_slack_process(conn: Connection) -> None:
    """Run a FakeSlack and answer the parent's questions about what it received."""
    from tests.fakes.slack_api import FakeSlack

    fake = FakeSlack().start()
    conn.send(fake.base_url)
    while True:
        question = conn.recv()
        if question == "stop":
            fake.stop()
            conn.send("stopped")
            return
        kind, method = question
        calls = fake.calls_to(method)
        if kind == "paths":
            conn.send([c.path for c in calls if c.ok])
        else:
            conn.send([c.params for c in calls if c.ok])


class FakeSlackProcess:
    """The parent's side of the fake Slack's process (what `Served` needs of a FakeSlack)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_fake_slack_process, args=(child,), daemon=True)
        self._process.start()
        self.base_url: str = self._conn.recv()
        self.api_url = f"{self.base_url}/api/"
        self._tokens = iter(range(1, 10**9))

    def response_url(self, token: str | None = None) -> str:
        """A fresh response_url on the fake."""
        return f"{self.base_url}/respond/{token or f'r{next(self._tokens):08d}'}"

    def answered(self) -> set[str]:
        """The response_urls that were posted to, as paths (`/respond/<token>`)."""
        self._conn.send(("paths", "response_url"))
        return set(self._conn.recv())

    def responses(self) -> list[dict[str, Any]]:
        """What was posted to response_urls, oldest first."""
        self._conn.send(("params", "response_url"))
        found: list[dict[str, Any]] = self._conn.recv()
        return found

    def stop(self) -> None:
        """Stop the fake and its process."""
        self._conn.send("stop")
        self._conn.recv()
        self._process.join(timeout=10)


# -- the reference: a bare slack-bolt app that only acks ----------------------------------


def serve_bare_bolt(port: int, api_url: str) -> None:
    """A slack-bolt App whose listeners only ack, on uvicorn, behind rollbot's endpoint."""
    import uvicorn
    from slack_bolt import Ack, App
    from slack_sdk import WebClient
    from starlette.applications import Starlette
    from starlette.routing import Route

    from bot.slack.http import slack_events

    app = App(
        client=WebClient(token="xoxb-bare-bolt", base_url=api_url),
        signing_secret=SIGNING_SECRET,
        process_before_response=False,
    )

    def only_ack(ack: Ack) -> None:
        ack()

    app.command(re.compile(".*"))(only_ack)
    app.action(re.compile(".*"))(only_ack)
    web = Starlette(
        routes=[Route("/slack/events", slack_events(app, SIGNING_SECRET), methods=["POST"])]
    )
    from bot.cli import _listen_or_exit

    # As `rollbot serve` listens (TCP_NODELAY on) and runs uvicorn (bot/cli.py).
    listening = _listen_or_exit("127.0.0.1", port)
    uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning")).run(
        sockets=[listening]
    )


class BareBolt:
    """The reference app as a process of its own."""

    def __init__(self, workdir: Path, api_url: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._out = (workdir / "bare-bolt.log").open("w", encoding="utf-8")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.acks", "--serve-bare-bolt", str(self.port), api_url],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until it answers HTTP (any status)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{self.base_url}/slack/events", timeout=2)
                return
            except httpx.TransportError:
                assert self.proc.poll() is None, "the bare Bolt app exited"
                assert time.monotonic() < deadline, "the bare Bolt app did not come up"
                time.sleep(0.1)

    def close(self) -> None:
        """Stop it."""
        stop_process(self.proc, 10)
        self._out.close()


# -- the requests -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """One request's body, built by the test suite's Slack request sender (signed when sent)."""

    kind: str
    body: str
    response_url: str


def prepare(fake: FakeSlackProcess, count: int, buttons: dict[str, str]) -> list[Prepared]:
    """`count` requests: `/rollout status`, `/rollout advance` and an Advance click on a
    private status card, in turn, over the rollouts `buttons` holds (flag -> button value)."""
    flags = sorted(buttons)
    recorded: list[SentRequest] = []
    # The sender builds Slack's exact bodies; this client only keeps them.
    keep = httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(200)))
    with SlackRequestSender("http://bench", SIGNING_SECRET, fake.response_url, client=keep) as s:
        for i in range(count):
            flag = flags[i % len(flags)]
            if i % 3 == 0:
                s.command("/rollout", f"status {flag}")
            elif i % 3 == 1:
                s.command("/rollout", f"advance {flag}")
            else:
                s.block_action("rollout_advance", buttons[flag], is_ephemeral=True)
            recorded.append(s.last)
    keep.close()
    return [
        Prepared("click" if r.kind == "block_actions" else "command", r.body, str(r.response_url))
        for r in recorded
    ]


async def fire(
    client: httpx.AsyncClient, url: str, requests: list[Prepared], concurrency: int
) -> list[float]:
    """Send `requests` to `url`, `concurrency` at a time; each one's time to its ack."""
    latencies: list[float] = []
    queue: asyncio.Queue[Prepared] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def sender() -> None:
        while not queue.empty():
            request = queue.get_nowait()
            headers = signed_headers(request.body, SIGNING_SECRET)
            started = time.perf_counter()
            response = await client.post(url, content=request.body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise AssertionError(f"{url} answered {response.status_code}: {response.text}")

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return latencies


async def connect(client: httpx.AsyncClient, url: str, concurrency: int) -> None:
    """Open `concurrency` connections to `url` with requests Bolt answers by itself (Slack's
    certificate check), so a round's first requests do not pay for connecting."""
    body = "ssl_check=1&token=bench"

    async def check() -> None:
        response = await client.post(
            url, content=body, headers=signed_headers(body, SIGNING_SECRET)
        )
        assert response.status_code == 200, response.text

    await asyncio.gather(*(check() for _ in range(concurrency)))


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.4999) - 1))]


def figure(line: str) -> None:
    """Print one figure of this benchmark."""
    print(f"[acks] {line}", flush=True)


# -- the run ----------------------------------------------------------------------------------


def start_rollouts(rollbot: Served, fake: FakeSlackProcess) -> dict[str, str]:
    """Start the bench's rollouts through Slack; each flag's Advance button value, as its
    private status card shows it."""
    buttons: dict[str, str] = {}
    for i in range(ROLLOUTS):
        flag = f"bench-{i:02d}"
        before = len(fake.responses())
        assert rollbot.slack.command("/rollout", f"start {flag}").status_code == 200
        wait_for(lambda b=before: len(fake.responses()) > b, f"the reply to starting {flag}")
        before = len(fake.responses())
        assert rollbot.slack.command("/rollout", f"status {flag}").status_code == 200
        wait_for(lambda b=before: len(fake.responses()) > b, f"the status of {flag}")
        blocks = json.dumps(fake.responses()[-1].get("blocks"))
        value = _advance_value(json.loads(blocks))
        assert value is not None, f"no Advance button on {flag}'s status card: {blocks[:500]}"
        buttons[flag] = value
    return buttons


def _advance_value(blocks: list[dict[str, Any]]) -> str | None:
    for block in blocks or []:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == "rollout_advance":
                return str(element["value"])
    return None


def wait_for(done: Any, what: str, timeout: float = 60.0) -> float:
    """Poll `done()` until true; how long it took (AssertionError naming `what`)."""
    started = time.monotonic()
    while not done():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


@contextmanager
def running(
    workdir: Path, checkout: Path = REPO_ROOT
) -> Iterator[tuple[FakeSlackProcess, Served, BareBolt]]:
    """The fake Slack, rollbot (of `checkout`) and the bare Bolt app, each in its own
    process."""
    fake = FakeSlackProcess()
    config = workdir / "rollbot.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    rollbot: Served | None = None
    bare: BareBolt | None = None
    try:
        rollbot = Served(
            "rollbot",
            workdir,
            fake,  # type: ignore[arg-type]  # Served reads only its api_url
            f"sqlite:///{workdir / 'rollbot.db'}",
            config,
            {"PYTHONPATH": str(checkout)},
        )
        bare = BareBolt(workdir, fake.api_url)
        rollbot.wait_ready()
        bare.wait_ready()
        yield fake, rollbot, bare
    finally:
        if bare is not None:
            bare.close()
        if rollbot is not None:
            rollbot.stop()
            rollbot.close()
        fake.stop()


async def measure(
    fake: FakeSlackProcess,
    urls: dict[str, str],
    buttons: dict[str, str],
    count: int,
    rounds: int,
    concurrency: int,
) -> tuple[dict[str, list[list[float]]], int, int, list[float]]:
    """The rounds: each app's ack times in each round, how many replies rollbot owed and
    posted, and how long after each round's last ack its last reply came."""
    # Idle connections are dropped before uvicorn's 5 s keep-alive would close them under a
    # request; `connect` opens them again, untimed, before each round.
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=3
    )
    clients = {name: httpx.AsyncClient(timeout=30, limits=limits) for name in urls}
    acks: dict[str, list[list[float]]] = {name: [] for name in urls}
    sent = answered = 0
    drained: list[float] = []
    try:
        # Warm both (their connections opened, caches filled) before measuring.
        for name, url in urls.items():
            await fire(clients[name], url, prepare(fake, 2 * concurrency, buttons), concurrency)
        await asyncio.to_thread(wait_for, lambda: not _owed(fake, set()), "the warm-up", 120)
        for r in range(rounds):
            for name in list(urls) if r % 2 == 0 else list(reversed(urls)):
                requests = prepare(fake, count, buttons)
                await connect(clients[name], urls[name], concurrency)
                got = await fire(clients[name], urls[name], requests, concurrency)
                acks[name].append(got)
                if name != "rollbot":
                    continue
                wanted = {"/respond/" + p.response_url.rsplit("/", 1)[1] for p in requests}
                sent += len(wanted)
                with suppress(AssertionError):  # counted as not delivered below
                    drained.append(
                        await asyncio.to_thread(
                            wait_for, lambda w=wanted: not _owed(fake, w), "replies", 120
                        )
                    )
                answered += len(wanted & fake.answered())
    finally:
        for client in clients.values():
            await client.aclose()
    return acks, sent, answered, drained


def _owed(fake: FakeSlackProcess, wanted: set[str]) -> set[str]:
    """Which of `wanted` response_urls have had no reply yet."""
    return wanted - fake.answered()


def main(argv: list[str] | None = None) -> int:
    """Fire the rounds at both apps, alternated; print the figures side by side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 120 requests")
    parser.add_argument("--requests", type=int, default=400, help="requests per round and app")
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--checkout",
        type=Path,
        default=REPO_ROOT,
        help="serve the rollbot of another checkout (e.g. before a change), same bench",
    )
    parser.add_argument("--serve-bare-bolt", nargs=2, metavar=("PORT", "API_URL"))
    args = parser.parse_args(argv)
    if args.serve_bare_bolt:
        serve_bare_bolt(int(args.serve_bare_bolt[0]), args.serve_bare_bolt[1])
        return 0
    count, rounds = (120, 1) if args.quick else (args.requests, args.rounds)
    with (
        tempfile.TemporaryDirectory(prefix="rollbot-bench-") as tmp,
        running(Path(tmp), args.checkout) as (
            fake,
            rollbot,
            bare,
        ),
    ):
        buttons = start_rollouts(rollbot, fake)
        urls = {"rollbot": rollbot.slack.url, "bare Bolt": bare.base_url + "/slack/events"}
        concurrency = args.concurrency
        result = asyncio.run(measure(fake, urls, buttons, count, rounds, concurrency))
    acks, sent, answered, drained = result
    ratios: list[float] = []
    for r in range(rounds):
        ours, base = acks["rollbot"][r], acks["bare Bolt"][r]
        ratios.append(percentile(ours, 0.99) / percentile(base, 0.99))
        figure(
            f"round {r + 1}: rollbot p50 {statistics.median(ours) * 1000:6.1f} ms, p99 "
            f"{percentile(ours, 0.99) * 1000:6.1f} ms; bare Bolt p50 "
            f"{statistics.median(base) * 1000:6.1f} ms, p99 {percentile(base, 0.99) * 1000:6.1f} "
            f"ms; p99 x{ratios[-1]:.2f}"
        )
    pooled = {name: [a for got in rounds_ for a in got] for name, rounds_ in acks.items()}
    stats = {name: (statistics.median(v), percentile(v, 0.99)) for name, v in pooled.items()}
    for name, (p50, p99) in stats.items():
        figure(
            f"{name:<9} {len(pooled[name])} acks ({rounds} x {count} at {concurrency} "
            f"concurrent): p50 {p50 * 1000:7.1f} ms, p99 {p99 * 1000:7.1f} ms"
        )
    ours_stats, base_stats = stats["rollbot"], stats["bare Bolt"]
    figure(
        f"ratio rollbot / bare Bolt: p50 x{ours_stats[0] / base_stats[0]:.2f}, p99 "
        f"x{ours_stats[1] / base_stats[1]:.2f}; median of the rounds' p99 ratios "
        f"x{statistics.median(ratios):.2f} (target: p99 at most x2)"
    )
    late = f"the last {max(drained):.1f} s after the round's last ack" if drained else "late"
    figure(f"replies delivered: {answered}/{sent} ({late})")
    return 0 if answered == sent else 1


if __name__ == "__main__":
    sys.exit(main())
