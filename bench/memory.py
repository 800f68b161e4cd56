"""Memory stays flat under load: RSS after 1,000 and after 10,000 signed slash commands.

    python3 -m bench.memory            # 1,000 then 10,000 commands; exit 1 when RSS grew >10%
    python3 -m bench.memory --quick    # 200 then 1,000 (prints the figures, checks nothing)

rollbot (SQLite, the shell's defaults otherwise) is served by uvicorn in this process and
driven over HTTP exactly as Slack drives it: signed `/rollout status` commands, each answered
through its `response_url` on the fake Slack Web API (the fake's and the sender's records of
calls are cleared as it goes, so only rollbot's memory is measured). The first figure is the
baseline; the ratio of the second to it is what matters. rollbot's clock moves a day between
the two batches, and the request ledger is pruned after the second: it must keep only the
second batch's rows (the last day's); exit 1 otherwise.
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import uvicorn

from bot.clock import ManualClock
from bot.config.settings import load_settings
from bot.container import build, slack_chat
from bot.services.requests import KEEP
from bot.slack.app import build_slack_app
from bot.web.app import create_app
from tests.conftest import NO_GATES
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackRequestSender

PLANS = Path(__file__).resolve().parent.parent / "config" / "plans"
SECRET = "bench-secret"
LIMIT = 1.10


def rss_mib() -> float:
    """This process's resident memory now (Linux: /proc/self/statm)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    """Print RSS after the first and the second batch, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 then 1,000 commands")
    args = parser.parse_args()
    first, second = (200, 1000) if args.quick else (1000, 10000)
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        config = Path(tmp) / "rollbot.yaml"
        config.write_text(f"rollouts:\n  plans_dir: {PLANS}\n" + NO_GATES, encoding="utf-8")
        settings = load_settings(
            env={
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": fake.api_url,
                "DATABASE_URL": f"sqlite:///{tmp}/rollbot.db",
            },
            config_path=config,
        )
        slack = slack_chat(settings)
        # rollbot's own clock, moved a day between the batches: the request ledger keeps a
        # day, so pruning after the second batch must forget every row of the first.
        clock = ManualClock()
        rollbot = build(settings, clock, chat=slack.ports)
        slack_app = build_slack_app(rollbot, slack.client)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(rollbot, slack_app),
                host="127.0.0.1",
                port=0,
                log_level="warning",
                lifespan="off",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        sender = SlackRequestSender(f"http://127.0.0.1:{port}", SECRET, fake.response_url)
        sender.command("/rollout", "start realtime-features", channel_id="C_BENCH")
        sent = 0

        def send_until(total: int) -> float:
            nonlocal sent
            while sent < total:
                response = sender.command("/rollout", "status realtime-features")
                assert response.status_code == 200, response.text
                sent += 1
                if sent % 200 == 0:
                    fake.wait_for("response_url", 200, timeout=30)
                    fake.clear()
                    sender.sent.clear()  # the harness's own record, not rollbot's memory
            # The last replies go out after their acks, from the app's worker pool.
            assert slack_app.work.wait_idle(30), "the Slack work was not done within 30 s"
            fake.clear()
            sender.sent.clear()
            gc.collect()
            return rss_mib()

        baseline = send_until(first)
        clock.advance(KEEP + timedelta(minutes=1))
        after = send_until(second)
        ratio = after / baseline
        print(f"[memory] RSS after {first:,} commands: {baseline:.1f} MiB (baseline)")
        print(f"[memory] RSS after {second:,} commands: {after:.1f} MiB ({ratio:.2f}x)")
        rows = rollbot.requests.size()
        forgotten = rollbot.requests.prune()
        kept = rollbot.requests.size()
        bounded = kept <= second - first
        print(
            f"[memory] request ledger after {second:,} commands: {rows:,} rows; pruning forgot "
            f"{forgotten:,} older than a day and kept {kept:,} (the last day's: "
            f"{'bounded' if bounded else 'NOT bounded'})"
        )
        server.should_exit = True
        thread.join(timeout=10)
        slack_app.work.close()
        sender.close()
        rollbot.db.dispose()
    if not args.quick and ratio > LIMIT:
        print(f"[memory] grew more than {LIMIT - 1:.0%}: something keeps what it should not")
        return 1
    if not bounded:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
