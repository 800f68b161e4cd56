"""`rollbot --help`, `config check` and `plan check` import only what they need: not the
object graph (bot.container), Slack, the web server, the database or the scheduler. Checked
by the modules loaded, not by timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
HEAVY = (
    "bot.container",
    "slack_bolt",
    "slack_sdk",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "apscheduler",
)
# Runs the command in-process and prints, as it exits, which of HEAVY were imported.
PROBE = """
import atexit, json, sys
heavy = {heavy!r}
atexit.register(lambda: print("LOADED " + json.dumps([m for m in heavy if m in sys.modules])))
sys.argv = ["rollbot", *{args!r}]
from bot.cli import main
main()
"""


def _loaded(args: list[str], tmp_path: Path) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBOT_"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/cli.db"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY, args=args)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("LOADED "))
    return json.loads(line.removeprefix("LOADED ")), result


def test_importing_the_cli_imports_neither_the_container_nor_slack(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    code = f"import sys, bot.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["config", "check", "--config", str(REPO_ROOT / "config" / "rollbot.example.yaml")],
        ["plan", "check", str(REPO_ROOT / "config" / "plans" / "realtime-features.yaml")],
    ],
    ids=["help", "config-check", "plan-check"],
)
def test_light_commands_import_only_what_they_need(args: list[str], tmp_path: Path) -> None:
    loaded, result = _loaded(args, tmp_path)
    # The command did its work...
    assert "Usage" in result.stdout or "OK" in result.stdout, result.stdout + result.stderr
    # ...without the object graph, Slack, the web server, the database or the scheduler.
    assert loaded == [], loaded


def test_serve_still_imports_what_it_needs(tmp_path: Path) -> None:
    """The other side: a command that builds rollbot does import the container (the probe
    can see it), so the test above is not passing for want of looking."""
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {REPO_ROOT / 'config' / 'plans'}\n", encoding="utf-8"
    )
    loaded, _result = _loaded(["db", "upgrade", "--config", str(config)], tmp_path)
    assert "sqlalchemy" in loaded and "alembic" in loaded, loaded
