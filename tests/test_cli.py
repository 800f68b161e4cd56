"""The `rollbot` command as a user runs it: real subprocesses, real files, real HTTP."""

from __future__ import annotations

import getpass
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.process_support import serving_checkout

REPO = Path(__file__).resolve().parent.parent
PLANS = REPO / "config" / "plans"


REPO_ROOT = Path(__file__).resolve().parent.parent


def run(
    args: list[str], tmp_path: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBOT_"))}
    full_env.update({"DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", **(env or {})})
    # The checkout under test, not whichever checkout `pip install -e` last pointed at.
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.cli_main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=full_env,
        timeout=60,
    )


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "rollbot.yaml"
    path.write_text(body)
    return path


def test_config_check_accepts_the_shipped_config(tmp_path: Path) -> None:
    result = run(
        ["config", "check", "--config", str(REPO / "config/rollbot.example.yaml")], tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout and "realtime-features" in result.stdout


def test_config_check_lists_every_problem_with_location_and_hint(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        f"rollouts:\n  plans_dir: {PLANS}\n  advance_guard: soon\n"
        "scheduler:\n  tick_secnds: 5\nweb:\n  port: 99999\n",
    )
    result = run(["config", "check", "--config", str(cfg)], tmp_path)
    assert result.returncode == 1
    out = result.stdout
    assert f"{cfg}: rollouts.advance_guard:" in out
    assert "scheduler.tick_secnds" in out and "check its spelling" in out
    assert "web.port" in out
    assert "3 problem(s)" in out
    assert "Traceback" not in out + result.stderr


def test_serve_refuses_an_invalid_config_without_a_traceback(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "flags:\n  provider: launchdarkly\n")
    result = run(["serve", "--config", str(cfg)], tmp_path)
    assert result.returncode == 2
    assert "flags.provider" in result.stderr and "launchdarkly" in result.stderr
    assert "Traceback" not in result.stderr


def test_plan_check_reports_yaml_errors_with_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntitle: [unclosed\n")
    result = run(["plan", "check", str(bad)], tmp_path)
    assert result.returncode == 1
    assert f"{bad}: line " in result.stdout and "invalid YAML" in result.stdout


def test_plan_check_accepts_the_shipped_plan(tmp_path: Path) -> None:
    result = run(["plan", "check", str(PLANS / "realtime-features.yaml")], tmp_path)
    assert result.returncode == 0, result.stdout
    assert "0% -> 5% -> 25% -> 50% -> 75% -> 100% -> 100%" in result.stdout


def test_serve_without_slack_serves_flags_and_says_how_to_connect(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/serve.db", "ROLLBOT_API_TOKEN": "t0k"}
    with serving_checkout(tmp_path, env) as server:
        base = server.url
        # The seed's curl, as written: form content type, JSON body.
        r = httpx.post(
            f"{base}/flags/realtime-features",
            content='{"enabled": false}',
            headers={
                "Authorization": "Bearer t0k",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert r.status_code == 200 and r.json()["enabled"] is False
        assert httpx.post(f"{base}/slack/events").status_code == 503
    out = server.output
    assert "Slack is not connected" in out and "SLACK_BOT_TOKEN" in out
    assert "t0k" not in out


def test_shell_runs_a_rollout_from_stdin(tmp_path: Path) -> None:
    script = (
        "\n".join(
            [
                "/rollout start realtime-features",
                "press advance",
                "as U0ENGLEAD",
                "press approve",
                "/approve realtime-features",
                "quit",
            ]
        )
        + "\n"
    )
    result = run(["shell", "--port", "0"], tmp_path, stdin=script)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Phase 1: Staging Deployment" in out
    # The shipped config enforces the plan's gates: nobody reaches users before the chain.
    assert "cannot leave step 1 yet: sign-off Approval Chain" in out
    assert "[DM to U0PRODUCT] your sign-off as Product Manager is needed" in out
    assert "| Engineering Lead | @U0ENGLEAD | approved via shell |" in out
    assert "Phase 2: Limited Beta (2/4)" not in out
    assert "Traceback" not in out + result.stderr


@pytest.mark.parametrize("command", [["db", "upgrade"], ["shell"]])
def test_an_unopenable_database_is_a_clear_message_not_a_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    url = "postgresql://rollbot:hunter2-not-shown@127.0.0.1:1/none"
    result = run(command, tmp_path, env={"DATABASE_URL": url})
    assert result.returncode == 2, result.stderr
    assert "the database (DATABASE_URL) cannot be opened" in result.stderr
    assert "Connection refused" in result.stderr or "connection" in result.stderr.lower()
    assert "Traceback" not in result.stderr + result.stdout
    assert "hunter2-not-shown" not in result.stderr + result.stdout


def test_the_shell_says_where_its_web_server_is_and_it_answers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBOT_"))}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli_main", "shell", "--port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        first = proc.stdout.readline()
        match = re.search(r"web server \(flag API, health, status page\) at (http://\S+)", first)
        assert match, first
        assert httpx.get(f"{match.group(1)}/healthz", timeout=10).json()["status"] == "ok"
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()


def test_a_taken_port_stops_the_shell_and_names_the_option(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run(["shell", "--port", str(port)], tmp_path, stdin="quit\n")
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is taken" in result.stderr
    assert "--port" in result.stderr and "Traceback" not in result.stderr


def test_config_check_lists_config_and_plan_problems_in_one_run(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    plan = (PLANS / "realtime-features.yaml").read_text(encoding="utf-8")
    (plans / "too-far.yaml").write_text(
        plan.replace("percentage: 100", "percentage: 150", 1), encoding="utf-8"
    )
    config = write_config(
        tmp_path, "rollouts:\n  plans_dir: plans\nscheduler:\n  tick_seconds: -5\n"
    )
    result = run(["config", "check", "--config", str(config)], tmp_path)
    assert result.returncode == 1
    out = result.stdout
    assert f"{config}: scheduler.tick_seconds" in out
    assert f"{plans / 'too-far.yaml'}: phases.2.steps.2.percentage" in out
    assert "2 problem(s) found." in out


def test_the_shell_starts_as_the_person_at_the_terminal(tmp_path: Path) -> None:
    result = run(["shell", "--port", "0"], tmp_path, stdin="whoami\nquit\n")
    assert result.returncode == 0, result.stderr
    assert f"You are {getpass.getuser()}." in result.stdout
    assert "You are you." not in result.stdout


def test_config_problems_speak_yaml(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        f"rollouts:\n  plans_dir: {PLANS}\n  advance_gaurd: 5s\nsignoff: 5\nrolouts: {{}}\n",
    )
    out = run(["config", "check", "--config", str(config)], tmp_path).stdout
    assert "'advance_gaurd' is not a key here; did you mean 'advance_guard'?" in out
    assert "'rolouts' is not a key here; did you mean 'rollouts'?" in out
    assert "signoff: should be a mapping (`key: value` lines indented under it), not 5" in out
    assert "Input should be" not in out and "SignoffConfig" not in out
    assert "3 problem(s) found." in out


def test_a_yaml_typo_is_pointed_at_where_it_is(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, f"rollouts:\n  plans_dir: {PLANS}\nscheduler:\n  tick_seconds: [1\nweb: {{}}\n"
    )
    out = run(["config", "check", "--config", str(config)], tmp_path).stdout
    assert "line 4, column 17: invalid YAML: a `[` list starts here and is not closed" in out


def test_live_check_and_the_start_warning_say_what_will_not_work(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        f"rollouts:\n  plans_dir: {PLANS}\n"
        "metrics:\n  provider: prometheus\n  url: http://127.0.0.1:9\n  timeout: 2s\n"
        "signoff:\n  enforce_gates: false\n",
    )
    result = run(["config", "check", "--config", str(config), "--live"], tmp_path)
    out = result.stdout
    assert result.returncode == 1, out
    assert "REVERT_COMMIT is not set" in out and "a rollback would fail" in out
    assert "FAILED metrics: prometheus did not answer" in out
    assert "ok     flags (builtin): answered" in out
    assert "1 outside system(s) did not answer." in out

    started = run(["shell", "--port", "0", "--config", str(config)], tmp_path, stdin="quit\n")
    assert started.returncode == 0
    assert "warning: metrics: prometheus did not answer" in started.stderr
    assert "warning: runbook of realtime-features: REALTIME_REPO is not set" in started.stderr
    env = {"REALTIME_REPO": "/srv/app", "REVERT_COMMIT": "abc", "PREVIOUS_VERSION": "1.2"}
    quiet = run(["config", "check", "--config", str(config)], tmp_path, env=env).stdout
    assert "is not set" not in quiet


def test_served_connections_send_without_waiting_for_the_clients_ack() -> None:
    """Keep-alive clients (Slack, SDKs, wrk) get each response at once: connections
    accepted on serve's socket have Nagle's algorithm off. With it on, every response on a
    reused connection waited ~40 ms for the client's delayed ACK."""
    from bot.cli import _listen_or_exit

    listening = _listen_or_exit("127.0.0.1", 0)
    with listening, socket.create_connection(listening.getsockname()[:2]):
        accepted, _ = listening.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
