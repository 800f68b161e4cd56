"""The rollback service: the one door for rolling back, by hand or when triggers fire.

`RollbackService` composes two collaborators sharing one `RollbackContext`: claiming
(bot/services/rollback/claim.py: which rollout, whether it may run, the claim under the
rollout's row lock) and running (bot/services/rollback/run.py: the runbook, flag-off step
first, every step reported). A rollback interrupted by a process death is resumed by the
scheduler's tick (`resume_interrupted`) from the first step without a recorded result.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping

from bot.domain.actor import SCHEDULER, Actor
from bot.domain.errors import Conflict, NotFound, RollbotError
from bot.domain.message import Code, Message
from bot.domain.roles import RoleDirectory
from bot.domain.rollback import FiredTrigger
from bot.domain.rollout import RolloutState
from bot.domain.runbook import FULL
from bot.domain.secrets import OWN_SECRETS
from bot.providers.databases import Databases
from bot.providers.metrics.base import MetricsProvider
from bot.providers.runbook.leftovers import run_marker, stop_leftovers
from bot.services.rollback.claim import Claim, RollbackClaims
from bot.services.rollback.context import RollbackContext
from bot.services.rollback.events import LeftoversStopped, steps_shown
from bot.services.rollback.report import RollbackPreview, RollbackReport
from bot.services.rollback.run import RunbookRun
from bot.services.rollouts.service import RolloutService
from bot.services.rollouts.views import plan_of
from bot.store import rollbacks, rollouts

log = logging.getLogger(__name__)

Spawn = Callable[[Callable[[], None]], None]
"""Starts a function elsewhere (the scheduler passes a thread starter)."""


def start_thread(work: Callable[[], None]) -> None:
    """Run a runbook on its own non-daemon thread, so a shutdown waits for it to finish."""
    threading.Thread(target=work, name="rollback-runbook", daemon=False).start()


class RollbackService:
    """Runs rollback runbooks for rollouts, by hand (`/rollback`) or when a trigger fires."""

    def __init__(
        self,
        rollouts_service: RolloutService,
        metrics: MetricsProvider,
        env: Mapping[str, str],
        roles: RoleDirectory | None = None,
        notify_roles: list[str] | None = None,
        output_tail_chars: int = 1500,
        sleep: Callable[[float], None] = time.sleep,
        *,
        spawn: Spawn | None = None,
        secret_names: frozenset[str] = OWN_SECRETS,
        databases: Databases | None = None,
    ) -> None:
        self._build(
            RollbackContext(
                rollouts=rollouts_service,
                metrics=metrics,
                env=env,
                roles=roles or RoleDirectory(),
                notify_roles=notify_roles or [],
                output_tail_chars=output_tail_chars,
                sleep=sleep,
                secret_names=secret_names,
                databases=databases,
            )
        )
        self.spawn = spawn
        """When set, automatic and resumed rollbacks run their runbook through it (a thread
        starter); unset, they run before `roll_back_automatically` returns."""

    def _build(self, ctx: RollbackContext) -> None:
        self.ctx = ctx
        self.claims = RollbackClaims(ctx)
        self.runs = RunbookRun(ctx)
        # The rollout service rollbacks change and report through, its database and clock.
        self.rollouts = ctx.rollouts
        self.db = ctx.db
        self.clock = ctx.clock
        self.listeners = ctx.listeners
        """Called with a report when a rollback starts and when it finishes (see README)."""
        # The container seals the listeners before `build` returns.
        self.seal = ctx.listeners.seal

    # -- asking ----------------------------------------------------------------------------

    def runbooks(self, flag_key: str) -> list[str]:
        """The runbooks the plan of `flag_key`'s rollout offers (`full` first); none when the
        flag has no rollout."""
        with self.db.session() as s:
            try:
                row = self.claims.target(s, flag_key, lock=False)
            except NotFound:
                return []
            return plan_of(row).runbook_names()

    def preview(self, flag_key: str, actor: Actor, runbook: str = FULL) -> RollbackPreview:
        """What running `runbook` on `flag_key` would do; refuses as `roll_back` would."""
        self.rollouts.permissions.require(actor, "rollback", "Rolling back")
        with self.db.session() as s:
            row = self.claims.target(s, flag_key, lock=False)
            retry = self.claims.check_rollable(s, row, runbook)
            assert row.id is not None
            plan = plan_of(row)
            steps = plan.runbook_steps(runbook)
            return RollbackPreview(
                flag_key,
                row.id,
                row.state,
                row.percentage,
                steps_shown(steps),
                retry,
                runbook=runbook,
                partial=plan.runbook_partial(runbook),
                description=plan.runbook_description(runbook),
                runbooks=[(n, plan.runbook_description(n)) for n in plan.runbook_names()],
                other_steps=[
                    (n, steps_shown(plan.runbook_steps(n)))
                    for n in plan.runbook_names()
                    if n != runbook
                ],
            )

    # -- doing -----------------------------------------------------------------------------

    def roll_back(
        self, flag_key: str, actor: Actor, reason: str, runbook: str = FULL
    ) -> RollbackReport:
        """Run `runbook` (default: the full rollback) on `flag_key`'s rollout by hand, with a
        reason people will read."""
        self.rollouts.permissions.require(actor, "rollback", "Rolling back")
        reason = " ".join(reason.split())
        if not reason:
            raise RollbotError(
                "A rollback needs a reason.",
                Message("Example: ", Code(f"/rollback {flag_key} error rate is up"), "."),
            )
        with self.db.session() as s:
            row = self.claims.target(s, flag_key, lock=True)
            self.claims.check_rollable(s, row, runbook)
            claimed = self.claims.claim(s, row, actor, reason, [], False, runbook)
        return self.runs.run(claimed)

    def roll_back_automatically(
        self, rollout_id: int, fired: list[FiredTrigger]
    ) -> RollbackReport | None:
        """Run the runbook the fired triggers name; None when the rollout is no longer active
        (or a runbook is running on it already). Any trigger of the full runbook rolls back;
        otherwise the partial runbook of the first trigger runs (the others' triggers, still
        breaching, fire at the next evaluation)."""
        full = [t for t in fired if (t.runbook or FULL) == FULL]
        runbook = FULL if full else str(fired[0].runbook)
        chosen = full or [t for t in fired if t.runbook == runbook]
        reason = "; ".join(f"trigger {t.name} fired" for t in chosen)
        with self.db.session() as s:
            row = rollouts.claim(s, rollout_id, skip_locked=False)
            if row is None or RolloutState(row.state) not in (
                RolloutState.RUNNING,
                RolloutState.PAUSED,
            ):
                return None  # finished or rolled back by someone else meanwhile
            try:
                self.claims.check_rollable(s, row, runbook)
            except Conflict:
                return None  # a runbook is running on it: that run answers the breach
            claimed = self.claims.claim(s, row, SCHEDULER, reason, chosen, True, runbook)
        if self.spawn is not None:
            # The runbook (flag-off first) runs on its own thread; the evaluation job goes on
            # watching the other rollouts instead of waiting minutes for drain and deploy.
            self.spawn(functools.partial(self.runs.run_logged, claimed))
            return claimed.report
        return self.runs.run(claimed)

    # -- resuming after a restart ----------------------------------------------------------

    def resume_interrupted(self) -> list[RollbackReport]:
        """Resume rollbacks whose process died mid-runbook (their lease ran out while
        "running"), each claimed by one replica under a row lock. Runs them through `spawn`
        when set (the scheduler's threads); returns what was resumed (finished reports when
        run here, the claimed reports when spawned)."""
        with self.db.session() as s:
            # On PostgreSQL every running one is a candidate: its run lock, free the moment
            # its runner's session ends, says which are orphaned (claim_interrupted).
            candidates = (
                rollbacks.running(s)
                if self.db.is_postgres
                else rollbacks.lease_expired(s, self.clock.now())
            )
        reports: list[RollbackReport] = []
        for rollback_id, rollout_id in candidates:
            claimed: Claim | None = self.claims.claim_interrupted(rollback_id, rollout_id)
            if claimed is None:
                continue  # another replica (or tick) has it, or it finished meanwhile
            log.warning(
                "resuming rollback %s of %s after a restart at step %d",
                rollback_id,
                claimed.report.flag_key,
                len(claimed.done) + 1,
            )
            stopped = stop_leftovers(run_marker(self.db.fingerprint, rollback_id))
            if stopped:
                log.warning(
                    "stopped %d leftover process(es) of rollback %s", len(stopped), rollback_id
                )
                self.runs.post(claimed.report, LeftoversStopped(len(stopped)))
            index = len(claimed.done)
            if index < len(claimed.steps) and not claimed.steps[index].idempotent:
                # It may have done its work or not: running it blindly could do it twice.
                reports.append(self.claims.hold_for_decision(claimed))
                self.runs.wait_for_decision(claimed)
            elif self.spawn is not None:
                self.spawn(functools.partial(self.runs.run_logged, claimed))
                reports.append(claimed.report)
            else:
                reports.append(self.runs.run(claimed))
        return reports

    def decide(self, rollback_id: int, choice: str, actor: Actor) -> RollbackReport:
        """A person's answer for a rollback waiting at a step not safe to run twice:
        `rerun` it, `skip` it, or `abort` the rollback there (audited)."""
        if choice not in ("rerun", "skip", "abort"):
            raise RollbotError(f"{choice!r} is not a choice.", "Re-run, Skip or Abort.")
        self.rollouts.permissions.require(actor, "rollback", "Deciding about a rollback step")
        claimed = self.claims.claim_decided(rollback_id, choice, actor)
        if choice == "abort":
            return self.runs.abort(claimed)
        self.runs.post(claimed.report, claimed.text)
        return self.runs.run(claimed)
