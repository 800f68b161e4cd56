"""The first hour of a new user, at a real terminal: the README's shell walkthrough, the web
server it prints, and an incident's post-mortem read in the shell."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import httpx
import pexpect

from tests.test_cli import REPO_ROOT

PROMPT = re.compile(r"rollbot \(as [^)]+\)> ")


def test_the_readme_walkthrough_at_a_terminal(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBOT_"))}
    env |= {"PYTHONPATH": str(REPO_ROOT), "DATABASE_URL": f"sqlite:///{tmp_path}/rollbot.db"}
    shell = pexpect.spawn(
        sys.executable,
        ["-m", "bot.cli_main", "shell", "--port", "0"],
        cwd=str(tmp_path),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    try:
        shell.expect(r"web server \(flag API, health, status page\) at (http://\S+)")
        url = shell.match.group(1).strip()
        assert httpx.get(f"{url}/healthz", timeout=10).json()["status"] == "ok"
        shell.expect(PROMPT)

        def run(line: str) -> str:
            shell.sendline(line)
            shell.expect(PROMPT)
            return str(shell.before)

        assert "Phase 1: Staging Deployment" in run("/rollout start realtime-features")
        held = run("press advance")
        assert "cannot leave step 1 yet" in held and "<flag>" not in held
        run("as U0ENGLEAD")
        assert "Signed" in run("press approve")
        table = run("/approve realtime-features")
        assert "| Engineering Lead | @U0ENGLEAD | approved via shell |" in table

        declared = run("/incident declare sev2 Checkout errors --components API")
        assert "opened #inc-" in declared
        resolved = run("/incident resolve Rolled back")
        drafts = tmp_path / "postmortems"
        (draft,) = drafts.iterdir()
        assert f"wrote {draft}" in resolved.replace("\r\n", "")
        assert "# Post-mortem: Checkout errors" in run("/incident postmortem")

        shell.sendline("quit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 0
