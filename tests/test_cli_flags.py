"""`rollbot config check` and the flags that applications read: the client token, and
segments in config (bad ones are config problems with key path and hint)."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import PLANS, run, write_config

SEGMENT = """flags:
  segments:
    internal:
      constraints:
        - contextName: email
          operator: {operator}
          {values}
"""


def test_config_check_warns_without_a_client_token(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path, f"rollouts:\n  plans_dir: {PLANS}\nsignoff:\n  enforce_gates: false\n"
    )
    result = run(["config", "check", "--config", str(cfg)], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: no ROLLBOT_CLIENT_TOKEN: OFREP" in result.stdout
    quiet = run(
        ["config", "check", "--config", str(cfg)], tmp_path, env={"ROLLBOT_CLIENT_TOKEN": "c"}
    )
    assert "ROLLBOT_CLIENT_TOKEN" not in quiet.stdout


def test_bad_segments_are_config_problems(tmp_path: Path) -> None:
    body = f"rollouts:\n  plans_dir: {PLANS}\n" + SEGMENT.format(
        operator="STR_ENDS", values='values: ["@example.com"]'
    )
    result = run(["config", "check", "--config", str(write_config(tmp_path, body))], tmp_path)
    assert result.returncode == 1
    assert "flags.segments.internal.constraints.0.operator" in result.stdout
    assert "STR_ENDS_WITH" in result.stdout  # the operators are listed
    body = f"rollouts:\n  plans_dir: {PLANS}\n" + SEGMENT.format(
        operator="SEMVER_GT", values="value: two"
    )
    result = run(["config", "check", "--config", str(write_config(tmp_path, body))], tmp_path)
    assert result.returncode == 1
    assert "flags.segments.internal.constraints.0" in result.stdout
    assert "not a semantic version" in result.stdout
