"""What `rollbot config check` says about flags: plans whose steps name segments that the
config does not define."""

from __future__ import annotations

from bot.config.settings import Settings
from bot.services.plans import PlanCatalog


def segment_problems(settings: Settings, catalog: PlanCatalog) -> list[str]:
    """One line per plan step naming a segment missing from `flags.segments`."""
    known = set(settings.config.flags.segments)
    listed = ", ".join(sorted(known)) or "none defined"
    found: list[str] = []
    for name, plan in sorted(catalog.plans.items()):
        for planned in plan.steps():
            for segment in sorted(set(planned.step.segments) - known):
                found.append(
                    f"{settings.config_path}: plan {name}: step {planned.step.name!r}: "
                    f"segments.{segment}: unknown segment (hint: define it under "
                    f"flags.segments; segments: {listed})"
                )
    return found
