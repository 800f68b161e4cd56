"""Sign-off chain rules and gate/checklist validation in the domain (no database)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.checklist import Checklist, ChecklistItem, ItemState, ItemStatus, checklist_hold
from bot.domain.errors import Conflict, InvalidTransition
from bot.domain.plan import validate_plan
from bot.domain.roles import Forbidden, Role, RoleDirectory
from bot.domain.signoff import (
    AlreadySigned,
    Chain,
    Gate,
    Order,
    Rejection,
    Signature,
    chain_hold,
    check_signer,
)
from bot.slack.mrkdwn import mrkdwn

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PLAN = Path(__file__).resolve().parents[2] / "config" / "plans" / "realtime-features.yaml"
DIRECTORY = RoleDirectory(
    roles={
        "eng": Role("eng", "Engineering Lead", ("UENG", "UENG2")),
        "pm": Role("pm", "Product Manager", ("UPM",)),
        "ops": Role("ops", "Operations Lead", (), usergroup="SOPS", backups=("UBACKUP",)),
    }
)
GROUPS = {"SOPS": ["UOPS"]}


def gate(order: Order = Order.SEQUENTIAL) -> Gate:
    return Gate(id="launch", name="Launch", roles=["eng", "pm", "ops"], order=order)


def signed(*pairs: tuple[str, str]) -> dict[str, Signature]:
    return {role: Signature(role, user, T0) for role, user in pairs}


def check(chain: Chain, role: str, user: str, **kw: Any) -> None:
    check_signer(chain, role, user, "UREQ", DIRECTORY, GROUPS, **kw)


def test_sequential_chain_asks_one_role_at_a_time_in_order() -> None:
    chain = Chain(gate())
    assert chain.next_roles() == ["eng"] and not chain.complete
    chain = Chain(gate(), signed(("eng", "UENG")))
    assert chain.next_roles() == ["pm"] and chain.pending() == ["pm", "ops"]
    with pytest.raises(InvalidTransition, match="waiting for Product Manager first"):
        check(chain, "ops", "UOPS")
    check(chain, "pm", "UPM")
    full = Chain(gate(), signed(("eng", "UENG"), ("pm", "UPM"), ("ops", "UOPS")))
    assert full.complete and full.next_roles() == [] and chain_hold(full, DIRECTORY) is None


def test_parallel_chain_asks_every_unsigned_role() -> None:
    chain = Chain(gate(Order.PARALLEL), signed(("pm", "UPM")))
    assert chain.next_roles() == ["eng", "ops"]
    check(chain, "ops", "UOPS")  # no order to wait for


def test_membership_direct_by_user_group_and_as_backup() -> None:
    chain = Chain(gate(Order.PARALLEL))
    check(chain, "ops", "UOPS")  # through the Slack user group
    check(chain, "ops", "UBACKUP")  # a backup, for escalations
    with pytest.raises(Forbidden) as refused:
        check(chain, "eng", "UOTHER")
    assert "Engineering Lead" in refused.value.message
    assert mrkdwn(refused.value.hint) == "Who can: <@UENG>, <@UENG2>."
    with pytest.raises(Forbidden) as refused:
        check_signer(chain, "ops", "UOPS", "UREQ", DIRECTORY, {})  # group members unknown
    assert "<!subteam^SOPS>" in mrkdwn(refused.value.hint)


def test_the_requester_cannot_sign_and_repeats_are_recognised() -> None:
    chain = Chain(gate())
    with pytest.raises(Forbidden, match="You started this rollout") as refused:
        check_signer(chain, "eng", "UENG", "UENG", DIRECTORY, GROUPS)
    # The one to ask is another member, never the starter themselves.
    assert mrkdwn(refused.value.hint) == "Ask another Engineering Lead: <@UENG2>."
    chain = Chain(gate(), signed(("eng", "UENG")))
    with pytest.raises(AlreadySigned):
        check(chain, "eng", "UENG")
    with pytest.raises(Conflict, match="already signed this gate"):
        check(chain, "eng", "UENG2")
    with pytest.raises(InvalidTransition, match="does not ask for"):
        check(chain, "cto", "UENG2")


def test_one_person_one_role_unless_allowed() -> None:
    directory = RoleDirectory(
        roles={
            "eng": Role("eng", "Engineering Lead", ("UBOTH",)),
            "pm": Role("pm", "Product Manager", ("UBOTH",)),
        }
    )
    chain = Chain(Gate(id="g", roles=["eng", "pm"]), signed(("eng", "UBOTH")))
    with pytest.raises(Forbidden, match="one person signs for one role"):
        check_signer(chain, "pm", "UBOTH", "UREQ", directory)
    check_signer(chain, "pm", "UBOTH", "UREQ", directory, allow_multiple_roles=True)


def test_rejection_is_open_until_the_role_approves_later() -> None:
    rejection = Rejection("eng", "UENG", T0, "tests red")
    chain = Chain(gate(), {}, (rejection,))
    assert chain.open_rejection() == rejection
    hold = chain_hold(chain, DIRECTORY)
    assert hold is not None and "rejected by Engineering Lead: tests red" in hold
    later = {"eng": Signature("eng", "UENG2", T0 + timedelta(hours=1))}
    assert Chain(gate(), later, (rejection,)).open_rejection() is None
    # A rejecter may reject a role not yet asked in a sequential chain.
    check(chain, "pm", "UPM", rejecting=True)


def test_checklist_hold_names_open_items() -> None:
    checklist = Checklist(
        id="code",
        title="Code Readiness",
        section="Pre-Migration Checklist",
        items=[ChecklistItem(text=f"item {i}", owner="eng") for i in range(5)],
    )
    states = [
        ItemState(checklist, i, item, ItemStatus.DONE if i == 0 else ItemStatus.OPEN)
        for i, item in enumerate(checklist.items)
    ]
    hold = checklist_hold([checklist], states)
    assert hold is not None
    assert mrkdwn(hold) == (
        "checklist *Code Readiness* has 4 of 5 items open (item 1, item 2, item 3 and 1 more)"
    )
    done = [ItemState(checklist, i, it, ItemStatus.DONE) for i, it in enumerate(checklist.items)]
    assert checklist_hold([checklist], done) is None


def shipped() -> dict[str, Any]:
    data = yaml.safe_load(PLAN.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def problems_of(data: dict[str, Any], roles: set[str] | None = None) -> list[str]:
    plan, problems = validate_plan(data, roles)
    assert plan is None or not problems
    return [str(p) for p in problems]


def test_the_shipped_plan_has_the_five_role_chain_and_the_cto_again() -> None:
    plan, problems = validate_plan(
        shipped(), {"eng_lead", "product_manager", "security_lead", "ops_lead", "cto"}
    )
    assert problems == [] and plan is not None
    staging = plan.step(0)
    assert staging.phase.id == "staging" and staging.step.gate == "launch"
    launch = next(g for g in plan.gates if g.id == "launch")
    assert launch.roles == ["eng_lead", "product_manager", "security_lead", "ops_lead", "cto"]
    assert launch.order is Order.SEQUENTIAL
    before_last = plan.step(plan.last_index - 1)
    final = next(g for g in plan.gates if g.id == before_last.step.gate)
    assert final.roles == ["cto"]
    sections = {c.section for c in plan.checklists}
    assert sections == {
        "Pre-Migration Checklist",
        "Communication Plan",
        "Phase 4: Full Production",
        "Post-Migration Tasks",
    }
    assert sum(len(c.items) for c in plan.checklists) == 32


def test_bad_gates_are_reported_with_key_path_and_hint() -> None:
    data = shipped()
    data["phases"][0]["steps"][0]["gate"] = "lanch"
    data["gates"][0]["roles"].append("eng_lead")
    data["gates"][0]["checklists"].append("nope")
    data["gates"][1]["order"] = "random"
    found = problems_of(data)
    assert any(p.startswith("gates.1.order:") and "hint:" in p for p in found), found

    data["gates"][1]["order"] = "parallel"
    found = problems_of(data)
    hint = "(hint: gates in this plan: cto-final, launch)"
    assert f"phases.0.steps.0.gate: no gate with id 'lanch' {hint}" in found
    twice = "gates.0.roles.5: role 'eng_lead' is listed twice in gate 'launch'"
    assert f"{twice} (hint: list each role once; every role signs once per gate)" in found
    assert any(p.startswith("gates.0.checklists.2: no checklist with id 'nope'") for p in found)
    assert any(p.startswith("gates.0: gate 'launch' is not used by any step") for p in found)

    unknown = problems_of(shipped(), roles={"eng_lead"})
    assert any(p.startswith("gates.0.roles.1: unknown role 'product_manager'") for p in unknown)
    assert any(".owner: unknown role 'ops_lead'" in p for p in unknown)


def test_gate_on_the_last_step_and_bad_probes() -> None:
    data = shipped()
    data["phases"][-1]["steps"][-1]["gate"] = "cto-final"
    found = problems_of(data)
    assert any(p.startswith("phases.3.steps.0.gate: the last step completes") for p in found)

    data = copy.deepcopy(shipped())
    item = data["checklists"][1]["items"][2]
    item["probe"] = {"tls": "example.com", "http": "https://example.com"}
    data["checklists"][0]["items"][0]["probe"] = {"metric": "error_rate"}
    data["checklists"][0]["items"][1]["probe"] = {"http": "ftp://x"}
    found = problems_of(data)
    assert any(p.startswith("checklists.1.items.2.probe:") and "exactly one" in p for p in found)
    assert any(p.startswith("checklists.0.items.0.probe:") and "min and/or max" in p for p in found)
    assert any(p.startswith("checklists.0.items.1.probe:") and "http://" in p for p in found)
