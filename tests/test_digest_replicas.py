"""Two real `rollbot serve` processes on one PostgreSQL post each digest slot once, against
the fake Slack Web API."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store import digests as digest_store
from bot.store.database import Database
from tests.conftest import fresh_database, postgres_admin_or_skip
from tests.fakes.slack_api import FakeSlack, fake_slack_fixture

REPO = Path(__file__).resolve().parent.parent
fake_slack = pytest.fixture(fake_slack_fixture)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database both replicas share."""
    with fresh_database(postgres_admin_or_skip()) as url:
        yield url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(config: Path, url: str, fake: FakeSlack, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBOT_"))}
    env.update(
        {
            "DATABASE_URL": url,
            "ROLLBOT_CONFIG": str(config),
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": "secret",
            "SLACK_API_URL": fake.api_url,
            # The checkout under test, not whichever one `pip install -e` points at.
            "PYTHONPATH": os.pathsep.join(
                [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli_main", "serve", "--port", str(_free_port())],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_serve_processes_post_a_digest_slot_once(
    fake_slack: FakeSlack, postgres_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {REPO / 'config' / 'plans'}\n"
        "scheduler:\n  tick_seconds: 1\n"
        "digests:\n  - {name: minutely, channel: C_DIGEST, cron: '* * * * *', timezone: UTC}\n",
        encoding="utf-8",
    )
    # The digest was first seen three minutes ago: the latest minute's slot is due at once.
    db = Database(postgres_url)
    now = datetime.now(UTC)
    with db.session() as s:
        digest_store.claim_slot(
            s, "minutely", now - timedelta(minutes=3), now, kind=digest_store.BASELINE
        )
    procs = [_serve(config, postgres_url, fake_slack, tmp_path) for _ in range(2)]
    try:
        deadline = time.monotonic() + 45
        while not _digest_posts(fake_slack):
            for proc in procs:
                assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "no digest was posted"
            time.sleep(0.2)
        time.sleep(4)  # both replicas tick several more times
    finally:
        outputs = []
        for proc in procs:
            proc.terminate()
            outputs.append(proc.communicate(timeout=30)[0])
    posts = _digest_posts(fake_slack)
    slots = [_slot_of(p) for p in posts]
    with db.session() as s:
        recorded = [r.slot_at for r in digest_store.posted_slots(s, "minutely")]
    db.dispose()
    assert len(slots) == len(set(slots)) >= 1, slots  # no slot posted twice
    assert sorted(slots) == [int(r.timestamp()) for r in recorded]
    assert all("Traceback" not in out for out in outputs), outputs


def _digest_posts(fake: FakeSlack) -> list[dict[str, object]]:
    return [
        c.params
        for c in fake.calls_to("chat.postMessage")
        if c.ok and c.params.get("channel") == "C_DIGEST"
    ]


def _slot_of(params: dict[str, object]) -> int:
    found = re.search(r"slot <!date\^(\d+)\^", json.dumps(params["blocks"]))
    assert found, params
    return int(found.group(1))
