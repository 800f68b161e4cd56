"""Plan validation of the new sections: metric providers and databases on conditions and
probes, named runbooks and the triggers that name them, sql steps and the backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.domain.plan import database_problems, validate_plan
from bot.domain.runbook import FULL, FlagStep, SqlStep
from bot.domain.triggers import Criterion, Trigger, decisive

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "plans" / "realtime-features.yaml"
TRIG = {"name": "err", "query": "q", "comparison": ">", "threshold": 0.01}
RESTART = {
    "description": "restart the servers",
    "partial": True,
    "steps": [{"name": "restart", "kind": "command", "run": "true"}],
}


def plan(**extra: Any) -> dict[str, Any]:
    return {
        "name": "p",
        "title": "P",
        "flag": "chat",
        "phases": [
            {"id": "a", "name": "A", "steps": [{"name": "s", "percentage": 0, "bake": "1h"}]},
            {"id": "b", "name": "B", "steps": [{"name": "t", "percentage": 100}]},
        ],
        **extra,
    }


def problems(data: dict[str, Any], databases: set[str] | None = None) -> list[str]:
    _plan, found = validate_plan(data, databases=databases)
    return [str(p) for p in found]


def test_an_unknown_provider_is_a_problem_with_its_key_path_and_hint() -> None:
    found = problems(plan(triggers=[{**TRIG, "provider": "graphite"}]))
    assert any(
        f.startswith("triggers.0.provider:") and "use one of the values listed" in f for f in found
    ), found
    probe = {"metric": "q", "max": 1, "provider": "influx"}
    checklist = {"id": "c", "title": "C", "items": [{"text": "x", "owner": "o", "probe": probe}]}
    found = problems(plan(checklists=[checklist]))
    assert any(f.startswith("checklists.0.items.0.probe.provider") for f in found), found


def test_a_database_belongs_to_sql_queries_only() -> None:
    found = problems(plan(triggers=[{**TRIG, "database": "realtime"}]))
    assert any("triggers.0" in f and "add provider: sql" in f for f in found), found
    ok, found = validate_plan(plan(triggers=[{**TRIG, "provider": "sql", "database": "rt"}]))
    assert (
        found == [] and ok is not None and ok.triggers[0].source.describe() == "sql (database rt)"
    )


def test_databases_the_config_lacks_are_named_with_their_paths() -> None:
    data = plan(
        triggers=[{**TRIG, "provider": "sql", "database": "analytics"}],
        runbook=[
            {"name": "restore", "kind": "sql", "database": "warehouse", "statements": ["SELECT 1"]}
        ],
    )
    found = problems(data, databases={"realtime"})
    assert any(
        f.startswith("triggers.0.database: there is no database called 'analytics'")
        and "databases: realtime" in f
        for f in found
    ), found
    assert any(f.startswith("runbook.0.database:") for f in found), found
    assert problems(data, databases={"analytics", "warehouse"}) == []


def test_a_trigger_names_a_runbook_the_plan_has() -> None:
    found = problems(plan(triggers=[{**TRIG, "runbook": "restart"}]))
    assert any(
        f.startswith("triggers.0.runbook: there is no runbook called 'restart'")
        and "runbooks of this plan: full" in f
        for f in found
    ), found
    p, found = validate_plan(
        plan(triggers=[{**TRIG, "runbook": "restart"}], runbooks={"restart": RESTART})
    )
    assert found == [] and p is not None
    assert p.runbook_names() == [FULL, "restart"]
    assert p.runbook_partial("restart") and not p.runbook_partial(FULL)
    # A partial runbook gets no flag-off step: the rollout's flag stays as it is.
    assert [s.name for s in p.runbook_steps("restart")] == ["restart"]
    assert isinstance(p.runbook_steps(FULL)[0], FlagStep)


def test_a_partial_runbook_leaves_the_rollouts_own_flag_alone() -> None:
    own = {**RESTART, "steps": [{"name": "off", "kind": "flag"}]}
    found = problems(plan(runbooks={"restart": own}))
    assert any(
        f.startswith("runbooks.restart.steps.0:") and "leaves the rollout's own flag alone" in f
        for f in found
    ), found
    other = {**RESTART, "steps": [{"name": "off", "kind": "flag", "flag": "chat-collab"}]}
    p, found = validate_plan(plan(runbooks={"collab-off": other}))
    assert found == [] and p is not None
    step = p.runbook_steps("collab-off")[0]
    assert isinstance(step, FlagStep) and step.flag == "chat-collab"
    found = problems(
        plan(runbooks={"bad": {**other, "steps": [{**other["steps"][0], "flag": "a b"}]}})
    )
    assert any("not a valid flag key" in f for f in found), found


def test_full_is_the_runbook_key_and_cannot_be_named_again() -> None:
    found = problems(plan(runbooks={"full": RESTART}))
    assert any(
        f.startswith("runbooks.full:") and "`full` is the plan's `runbook:`" in f for f in found
    )


def test_sql_steps_and_the_backup() -> None:
    bad = {"name": "x", "kind": "sql", "database": "rt", "statements": [" "], "count_rows": ["a;b"]}
    found = problems(plan(runbook=[bad]))
    assert any("runbook.0.sql.statements" in f and "a statement is empty" in f for f in found)
    assert any("runbook.0.sql.count_rows" in f and "not a table name" in f for f in found)
    backup = {"name": "b", "kind": "sql", "database": "rt", "statements": ["SELECT 1"]}
    everyone = plan(backup=backup)
    everyone["phases"][0]["steps"][0]["percentage"] = 0
    everyone["phases"][1]["steps"][0]["percentage"] = 0
    found = problems(everyone)
    assert any(f.startswith("backup: no step has a percentage above 0") for f in found), found
    p, found = validate_plan(plan(backup=backup))
    assert found == [] and p is not None and isinstance(p.backup, SqlStep)
    assert p.first_exposed_index() == 1


def test_the_shipped_plan_encodes_the_risk_assessment_and_appendix_b() -> None:
    p, found = validate_plan(yaml.safe_load(SHIPPED.read_text()), databases={"realtime"})
    assert found == [] and p is not None
    assert p.runbook_names() == [FULL, "websocket-off", "restart", "collab-off"]
    assert all(p.runbook_partial(n) for n in p.runbook_names()[1:])
    runs = {t.name: t.runbook for t in p.triggers}
    assert runs["memory"] == "restart"  # memory > 80% restarts, not the full rollback
    assert runs["connection-storm"] == "websocket-off"
    assert runs["state-sync-conflicts"] == "collab-off"
    assert runs["error-rate"] is None  # the full rollback
    flags = {
        n: [s.flag for s in p.runbook_steps(n) if isinstance(s, FlagStep)]
        for n in ("websocket-off", "collab-off")
    }
    assert flags == {"websocket-off": ["realtime-websocket"], "collab-off": ["realtime-collab"]}
    assert (
        p.backup is not None
        and "CREATE TABLE realtime_backup AS SELECT * FROM realtime_data" in p.backup.statements
    )
    (restore,) = [s for s in p.runbook if isinstance(s, SqlStep)]
    assert restore.statements == [
        "DROP TABLE realtime_data",
        "ALTER TABLE realtime_backup RENAME TO realtime_data",
    ]
    assert database_problems(p, set()) != []  # without the database, each use is named


def test_the_worst_labelled_value_decides() -> None:
    trigger = Trigger(name="p95", query="q", comparison=">", threshold=0.5, per="variant")
    assert decisive(trigger, {}, trigger=True) == (None, None)
    assert decisive(trigger, {"a": 0.2, "b": 0.9, "c": 0.7}, trigger=True) == ("b", 0.9)
    assert decisive(trigger, {"a": 0.2, "b": None}, trigger=True) == ("b", None)
    assert decisive(trigger, {"a": 0.2, "b": 0.4}, trigger=True) == ("b", 0.4)
    criterion = Criterion(name="ok", query="q", comparison=">", threshold=0.99, per="segment")
    assert decisive(criterion, {"eu": 0.999, "us": 0.95}, trigger=False) == ("us", 0.95)
