"""Checks across a plan's gates, checklists and steps (references, duplicates, roles).

Kept apart from plan.py so the plan model stays small; `validate_plan` calls it.
"""

from __future__ import annotations

from collections.abc import Collection

from bot.domain.plan import Plan, PlanProblem


def _listing(ids: Collection[str]) -> str:
    return ", ".join(sorted(ids)) or "none"


def gate_problems(plan: Plan, roles: Collection[str] | None = None) -> list[PlanProblem]:
    """Every problem with the plan's gates and checklists, with key path and hint."""
    problems: list[PlanProblem] = []
    gate_ids: dict[str, int] = {}
    for g, gate in enumerate(plan.gates):
        if gate.id in gate_ids:
            problems.append(
                PlanProblem(
                    f"gates.{g}.id",
                    f"gate id {gate.id!r} is used twice (also gates.{gate_ids[gate.id]})",
                    "give every gate its own id",
                )
            )
        gate_ids.setdefault(gate.id, g)
    checklist_ids: dict[str, int] = {}
    for c, checklist in enumerate(plan.checklists):
        if checklist.id in checklist_ids:
            problems.append(
                PlanProblem(
                    f"checklists.{c}.id",
                    f"checklist id {checklist.id!r} is used twice "
                    f"(also checklists.{checklist_ids[checklist.id]})",
                    "give every checklist its own id",
                )
            )
        checklist_ids.setdefault(checklist.id, c)
        for i, item in enumerate(checklist.items):
            if roles is not None and item.owner not in roles:
                problems.append(
                    PlanProblem(
                        f"checklists.{c}.items.{i}.owner",
                        f"unknown role {item.owner!r}",
                        f"use a role defined in the config's roles: {_listing(roles)}",
                    )
                )
    for g, gate in enumerate(plan.gates):
        seen: set[str] = set()
        for r, role in enumerate(gate.roles):
            if role in seen:
                problems.append(
                    PlanProblem(
                        f"gates.{g}.roles.{r}",
                        f"role {role!r} is listed twice in gate {gate.id!r}",
                        "list each role once; every role signs once per gate",
                    )
                )
            seen.add(role)
            if roles is not None and role not in roles:
                problems.append(
                    PlanProblem(
                        f"gates.{g}.roles.{r}",
                        f"unknown role {role!r}",
                        f"use a role defined in the config's roles: {_listing(roles)}",
                    )
                )
        for k, checklist_id in enumerate(gate.checklists):
            if checklist_id not in checklist_ids:
                problems.append(
                    PlanProblem(
                        f"gates.{g}.checklists.{k}",
                        f"no checklist with id {checklist_id!r}",
                        f"checklists in this plan: {_listing(checklist_ids)}",
                    )
                )
    used: set[str] = set()
    for p, phase in enumerate(plan.phases):
        for s, step in enumerate(phase.steps):
            if step.gate is None:
                continue
            where = f"phases.{p}.steps.{s}.gate"
            used.add(step.gate)
            if step.gate not in gate_ids:
                problems.append(
                    PlanProblem(
                        where,
                        f"no gate with id {step.gate!r}",
                        f"gates in this plan: {_listing(gate_ids)}",
                    )
                )
            elif p == len(plan.phases) - 1 and s == len(phase.steps) - 1:
                problems.append(
                    PlanProblem(
                        where,
                        "the last step completes the rollout, so a gate on it never opens",
                        "put the gate on the step before the one it should protect",
                    )
                )
    for g, gate in enumerate(plan.gates):
        if gate.id not in used:
            problems.append(
                PlanProblem(
                    f"gates.{g}",
                    f"gate {gate.id!r} is not used by any step",
                    f"add `gate: {gate.id}` to the step that must not be left without it",
                )
            )
    return problems
