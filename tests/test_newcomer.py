"""The first hour of a new user: a clean clone, a fresh virtualenv, the README's first
command, and at a real terminal the README's shell walkthrough, the web server it prints,
and an incident's post-mortem read in the shell."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pexpect
import pytest

from tests.test_cli import REPO_ROOT

PROMPT = re.compile(r"rollbot \(as [^)]+\)> ")


def _clean_clone_with_rollbot(tmp_path: Path) -> tuple[Path, Path]:
    """A clone of this checkout's HEAD and a fresh virtualenv where the README's install
    ran (`python3 -m pip install -e .`); the venv sees the installed dependencies, so it
    needs no downloads beyond the build backend."""
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to clone")
    clone, venv = tmp_path / "rollbot", tmp_path / "venv"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python3"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-e", "."],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return clone, venv / "bin" / "rollbot"


def test_the_readme_walkthrough_at_a_terminal(tmp_path: Path) -> None:
    clone, rollbot = _clean_clone_with_rollbot(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBOT_"))}
    env.pop("DATABASE_URL", None)  # the embedded default: SQLite in ./rollbot.db
    env.pop("PYTHONPATH", None)
    shell = pexpect.spawn(
        str(rollbot),
        ["shell", "--port", "0"],
        cwd=str(clone),
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
        drafts = clone / "postmortems"
        (draft,) = drafts.iterdir()
        assert f"wrote {draft}" in resolved.replace("\r\n", "")
        assert "# Post-mortem: Checkout errors" in run("/incident postmortem")

        shell.sendline("quit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 0
    assert (clone / "rollbot.db").is_file()  # the embedded default database
