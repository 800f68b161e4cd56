"""What `rollbot config check` says about flags: plans whose steps name segments that the
config does not define.

A warning, not an error (as for a database the config lacks): such a segment matches only
the users whose application names it in the `segment` context field, so the step still
works for those, and a config without `flags.segments` keeps passing with the shipped plan
(whose Phase 2 starts with the `internal` segment at 100%)."""

from __future__ import annotations

from bot.config.settings import Settings
from bot.services.plans import PlanCatalog


def segment_problems(settings: Settings, catalog: PlanCatalog) -> list[str]:
    """One warning line per plan step naming a segment missing from `flags.segments`."""
    flags = settings.config.flags
    # The context field that names a segment outright: Unleash's is configurable.
    field = (
        flags.unleash.segment_context
        if flags.provider == "unleash" and flags.unleash
        else "segment"
    )
    known = set(flags.segments)
    listed = ", ".join(sorted(known)) or "none defined"
    found: list[str] = []
    for name, plan in sorted(catalog.plans.items()):
        for planned in plan.steps():
            for segment in sorted(set(planned.step.segments) - known):
                found.append(
                    f"{settings.config_path}: plan {name}: step {planned.step.name!r}: "
                    f"segments.{segment}: unknown segment: only users whose application "
                    f"names it in the `{field}` context field are in it (hint: define it "
                    f"under flags.segments; segments: {listed})"
                )
    return found


def provider_segment_notes(settings: Settings, catalog: PlanCatalog) -> list[str]:
    """A note when the http flag provider must hold the plans' segment percentages: that
    remote is only asked at `/rollout start` (config check makes no calls to it)."""
    flags = settings.config.flags
    if flags.provider != "http" or flags.http is None:
        return []
    plans = {name: plan.segment_names() for name, plan in sorted(catalog.plans.items())}
    using = {name: names for name, names in plans.items() if names}
    if not using:
        return []
    listed = "; ".join(f"{name}: {', '.join(sorted(names))}" for name, names in using.items())
    return [
        f"note: plans give segments percentages ({listed}): the http flag API at "
        f"{flags.http.base_url} must hold `segment_rollouts` and define those segments (a "
        "rollbot's flags.segments); rollbot asks it when such a rollout starts"
    ]
