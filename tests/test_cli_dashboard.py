"""`rollbot serve` (and `rollbot shell`) on an address other machines reach, without
`dashboard.auth`: it says once at start that the dashboard is shut and how to open it, and
the dashboard answers 403 while health and metrics answer as ever."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import REPO_ROOT
from tests.process_support import serving_checkout


def test_serve_elsewhere_than_loopback_says_once_that_the_dashboard_is_shut(
    tmp_path: Path,
) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/serve.db"}
    with serving_checkout(tmp_path, env, host="0.0.0.0") as server:
        assert "rollbot listening on http://0.0.0.0:" in server.output
        shut = httpx.get(f"{server.url}/", timeout=5)
        assert shut.status_code == 403
        assert "dashboard.auth" in shut.text
        assert httpx.get(f"{server.url}/metrics", timeout=5).status_code == 200
    said = server.output
    assert said.count("The dashboard is shut") == 1, said
    assert "ROLLBOT_DASHBOARD_TOKEN" in said and "Traceback" not in said


def shell_once(tmp_path: Path, web_yaml: str) -> subprocess.CompletedProcess[str]:
    """`rollbot shell` with the shipped plans and `web_yaml`, quitting at once."""
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {REPO_ROOT / 'config' / 'plans'}\n{web_yaml}", encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBOT_"))}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path}/shell.db", "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli_main", "shell", "--port", "0", "--config", str(config)],
        input="quit\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result


def test_shell_elsewhere_than_loopback_says_once_that_the_dashboard_is_shut(
    tmp_path: Path,
) -> None:
    """`rollbot shell` serves the same dashboard as `serve` (on `web.host`): it warns the
    same way when other machines can reach it."""
    said = shell_once(tmp_path, "web:\n  host: 0.0.0.0\n").stderr
    assert said.count("The dashboard is shut") == 1, said
    assert "ROLLBOT_DASHBOARD_TOKEN" in said
    # On loopback (the shipped default) it says nothing of the kind.
    quiet = shell_once(tmp_path, "")
    assert "The dashboard is shut" not in quiet.stdout + quiet.stderr
