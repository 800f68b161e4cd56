"""Checks of the sign-off setup for `rollbot config check`: do the plans' gates and
checklist owners name roles the config defines, and are the gates enforced at all."""

from __future__ import annotations

from bot.config.settings import Settings
from bot.domain.plan import validate_plan
from bot.services.plans import PlanCatalog


def signoff_problems(settings: Settings, catalog: PlanCatalog) -> tuple[list[str], list[str]]:
    """(problems, notes): unknown roles are problems when gates are enforced, notes when
    not; a note says when plans have gates that are not enforced."""
    roles = set(settings.config.roles)
    enforced = settings.config.signoff.enforce_gates
    found: list[str] = []
    gated: list[str] = []
    for name, plan in sorted(catalog.plans.items()):
        if plan.gates:
            gated.append(name)
        _plan, problems = validate_plan(plan.model_dump(mode="json"), roles=roles)
        found += [f"plan {name}: {p}" for p in problems]
    notes: list[str] = []
    if gated and not enforced:
        notes.append(
            f"{settings.config_path}: signoff.enforce_gates is off: the sign-off gates of "
            f"{', '.join(gated)} are shown in reports but do not hold rollouts "
            "(hint: set it to true once the roles name your team)"
        )
    if not enforced:
        return [], notes + found
    return [f"{settings.config_path}: {p}" for p in found], notes
