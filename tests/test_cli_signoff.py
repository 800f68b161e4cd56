"""`rollbot plan check` and `rollbot config check` on sign-off gates, as a user runs them."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.test_cli import PLANS, REPO, run


def test_plan_check_reports_bad_gates_with_key_path_and_hint(tmp_path: Path) -> None:
    data = yaml.safe_load((PLANS / "realtime-features.yaml").read_text(encoding="utf-8"))
    data["phases"][0]["steps"][0]["gate"] = "lunch"
    data["gates"][1]["order"] = "whenever"
    data["checklists"][1]["items"][2]["probe"] = {"tls": "x.example.com", "command": "true"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = run(["plan", "check", str(bad)], tmp_path)
    assert result.returncode == 1
    out = result.stdout
    assert f"{bad}: gates.1.order:" in out and "hint: use one of the values listed" in out
    assert f"{bad}: checklists.1.items.2.probe:" in out and "exactly one of" in out

    data["gates"][1]["order"] = "parallel"
    data["checklists"][1]["items"][2]["probe"] = {"tls": "x.example.com"}
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = run(["plan", "check", str(bad)], tmp_path).stdout
    assert f"{bad}: phases.0.steps.0.gate: no gate with id 'lunch'" in out
    assert "(hint: gates in this plan: cto-final, launch)" in out

    ok = run(["plan", "check", str(PLANS / "realtime-features.yaml")], tmp_path)
    assert ok.returncode == 0 and "OK: Real-time Features migration" in ok.stdout


def test_config_check_names_unknown_gate_roles_when_gates_are_enforced(tmp_path: Path) -> None:
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {PLANS}\n"
        "roles:\n  eng_lead: {name: Engineering Lead, members: [U1]}\n"
        "signoff:\n  enforce_gates: true\n",
        encoding="utf-8",
    )
    result = run(["config", "check", "--config", str(config)], tmp_path)
    assert result.returncode == 1
    assert (
        "plan realtime-features: gates.0.roles.1: unknown role 'product_manager'" in result.stdout
    )

    example = run(
        ["config", "check", "--config", str(REPO / "config/rollbot.example.yaml")], tmp_path
    )
    assert example.returncode == 0, example.stdout
    assert "signoff.enforce_gates is off" not in example.stdout


def test_plan_check_names_a_gate_role_the_config_does_not_define(tmp_path: Path) -> None:
    data = yaml.safe_load((PLANS / "realtime-features.yaml").read_text(encoding="utf-8"))
    data["gates"][0]["roles"].append("release_captain")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {PLANS}\n"
        "roles:\n  eng_lead: {name: Engineering Lead, members: [U1]}\n"
        "signoff:\n  enforce_gates: true\n",
        encoding="utf-8",
    )
    result = run(["plan", "check", "--config", str(config), str(bad)], tmp_path)
    assert result.returncode == 1
    assert "unknown role 'release_captain'" in result.stdout
    assert "OK:" not in result.stdout
    # The shipped example config defines the shipped plan's roles.
    ok = run(["plan", "check", str(PLANS / "realtime-features.yaml")], tmp_path)
    assert ok.returncode == 0, ok.stdout
