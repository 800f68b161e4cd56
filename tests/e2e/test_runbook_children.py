"""Runbook commands do not outlive rollbot: `rollbot serve` stopped with SIGTERM mid-step
kills the step's whole process group and exits at once (not when a long command ends);
killed with `kill -9`, the step's shell dies with it (PR_SET_PDEATHSIG) — the replica test
(test_replicas.py) shows that, and the resumer sweeps what is left."""

from __future__ import annotations

import time
from pathlib import Path

from tests.fakes.slack_api import FakeSlack
from tests.plan_support import DISABLE_THE_FLAG, command_step, error_rate, phase, plan_yaml, step
from tests.serve_support import Metrics, Served, parent_of, process_gone, wait_until

PLAN = plan_yaml(
    [phase("beta", "Beta", [step("five", 5, "1h"), step("all", 100)])],
    triggers=[error_rate(consecutive=1)],
    runbook=[
        DISABLE_THE_FLAG,
        command_step(
            "Drain",
            """'echo $$ >> "$RUNS_FILE"; sleep 300 & echo $! >> "$RUNS_FILE"; wait'""",
            timeout="10m",
        ),
    ],
)


def test_sigterm_mid_step_kills_the_command_group_and_stops_at_once(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "chat-v2.yaml").write_text(PLAN, encoding="utf-8")
    metrics = Metrics()
    metrics.errors = 0.5  # breaching from the start: the first evaluation rolls back
    cfg = tmp_path / "rollbot.yaml"
    cfg.write_text(
        f"rollouts:\n  plans_dir: {plans}\n  default_plan: chat-v2\n"
        "slack:\n  rollout_channel: null\n"
        "signoff:\n  enforce_gates: false\n"
        "scheduler:\n  tick_seconds: 1\n"
        "metrics:\n  provider: http_json\n"
        f"  url: http://127.0.0.1:{metrics.port}/metrics.json\n  evaluation_seconds: 1\n",
        encoding="utf-8",
    )
    runs = tmp_path / "runs.txt"
    runs.touch()
    served = Served(
        "serve",
        tmp_path,
        fake_slack,
        f"sqlite:///{tmp_path}/rollbot.db",
        cfg,
        {"RUNS_FILE": str(runs)},
    )
    try:
        served.wait_ready()
        response = served.slack.command("/rollout", "start chat-v2", channel_id="C_RELEASES")
        assert response.status_code == 200
        wait_until("the Drain step running", lambda: len(runs.read_text().split()) >= 2, 20)
        shell, sleeper = (int(p) for p in runs.read_text().split()[:2])
        assert parent_of(shell) == served.pid
        assert parent_of(sleeper) == shell

        stopped_at = time.monotonic()
        assert served.stop(timeout=20) == 0, served.output
        assert time.monotonic() - stopped_at < 15, "serve waited for the command"
        wait_until("the command's shell gone", lambda: process_gone(shell), 3)
        wait_until("the command's own child gone", lambda: process_gone(sleeper), 3)
        assert "killed runbook command group" in served.output
        assert "stopped with rollbot mid-step" in served.output
        assert "Traceback" not in served.output, served.output
    finally:
        served.close()
        metrics.close()
