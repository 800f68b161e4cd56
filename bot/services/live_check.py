"""Can rollbot reach what it is configured to use: the metrics provider, the pager, the
status pages, the flag system; and does the environment hold what the runbooks read.

`rollbot config check --live` shows every check; `serve` and `shell` warn once at start
about what will not work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config.databases import database_urls
from bot.config.settings import ConfigFile
from bot.domain.runbook import FULL, needed_env
from bot.services.plans import PlanCatalog

# Types only: `rollbot config check` reads this module without the database and HTTP
# libraries the providers bring in.
if TYPE_CHECKING:
    from bot.providers.flags.base import FlagProvider
    from bot.providers.metrics.sources import MetricSources
    from bot.providers.paging.base import Pager
    from bot.providers.statuspage.base import StatusPageProvider

PROBE_FLAG = "rollbot-live-check"  # read, never written: absent is a fine answer


@dataclass(frozen=True)
class Finding:
    """One check: what was checked, whether it works (None: not checked), and why."""

    system: str
    ok: bool | None
    detail: str


def missing_runbook_env(plans: PlanCatalog, env: Mapping[str, str]) -> list[Finding]:
    """Each environment variable a plan's runbook reads and `env` lacks (no network)."""
    found: list[Finding] = []
    for name, plan in sorted(plans.plans.items()):
        for runbook in plan.runbook_names():
            for variable, steps in needed_env(plan.runbook_steps(runbook)).items():
                if not env.get(variable):
                    where = ", ".join(f"“{s}”" for s in steps)
                    which = "runbook" if runbook == FULL else f"runbook {runbook}"
                    found.append(
                        Finding(
                            f"{which} of {name}",
                            False,
                            f"{variable} is not set (read by {where}); a rollback would fail "
                            "at that step",
                        )
                    )
    return found


def missing_database_env(config: ConfigFile, env: Mapping[str, str]) -> list[Finding]:
    """Each named database whose URL variable is unset: its sql conditions are not
    evaluated and sql runbook steps on it fail."""
    return [
        Finding(
            f"database {name}",
            False,
            f"{variable} is not set: its sql criteria, triggers and probes are not evaluated, "
            "and sql runbook steps on it would fail",
        )
        for name, variable in sorted(database_urls(config.databases, config.metrics.sql).items())
        if not env.get(variable)
    ]


class LiveCheck:
    """Asks each outside system one harmless question."""

    def __init__(
        self,
        plans: PlanCatalog,
        metrics: MetricSources,
        pager: Pager | None,
        status_pages: Sequence[StatusPageProvider],
        flags: FlagProvider,
        env: Mapping[str, str],
    ) -> None:
        self.plans = plans
        self.metrics = metrics
        self.pager = pager
        self.status_pages = status_pages
        self.flags = flags
        self.env = env

    def runbook_env(self) -> list[Finding]:
        """Each environment variable a plan's runbook reads and the environment lacks."""
        return missing_runbook_env(self.plans, self.env)

    def metrics_reachable(self) -> Finding:
        """One query the plans ask, through the configured metrics provider."""
        if not self.metrics.enabled:
            return Finding("metrics", None, "off (metrics.provider: none): no triggers watch")
        conditions = [
            c
            for plan in self.plans.plans.values()
            for c in (*plan.triggers, *(c for phase in plan.phases for c in phase.criteria))
            if self.metrics.configured(c.source)
        ]
        if not conditions:
            return Finding("metrics", None, f"{self.metrics.name}: no plan asks a query")
        # One query per provider asked: each outside system is told apart.
        by_source = {c.source: c for c in conditions}
        answers: list[str] = []
        for source, condition in by_source.items():
            name = source.describe() if source.provider else self.metrics.name
            try:
                query = condition.queries()[0]
                value = self.metrics.ask(source, query)
            except Exception as exc:
                return Finding("metrics", False, f"{name} did not answer: {exc}")
            answers.append(f"{name} answered {query!r} with {value}")
        return Finding("metrics", True, "; ".join(answers))

    def outside(self) -> list[Finding]:
        """Every outside system: metrics, pager, status pages, flag system."""
        found = [self.metrics_reachable()]
        if self.pager is None:
            found.append(Finding("paging", None, "none configured: the declarer commands"))
        else:
            try:
                on_call = self.pager.on_call()
            except Exception as exc:
                found.append(Finding("paging", False, f"the on-call lookup failed: {exc}"))
            else:
                who = on_call.name if on_call else "nobody"
                found.append(Finding("paging", True, f"on call now: {who}"))
        for page in self.status_pages:
            try:
                said = page.check()
            except Exception as exc:
                found.append(Finding(f"status page {page.name}", False, str(exc)))
                continue
            if said is None:
                said = "not checked: publishing an update is the only call it has"
                found.append(Finding(f"status page {page.name}", None, said))
            else:
                found.append(Finding(f"status page {page.name}", True, said))
        try:
            self.flags.get(PROBE_FLAG)
        except Exception as exc:
            found.append(Finding(f"flags ({self.flags.name})", False, f"did not answer: {exc}"))
        else:
            found.append(Finding(f"flags ({self.flags.name})", True, "answered"))
        return found
