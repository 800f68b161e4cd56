"""Running a claimed rollback: the runbook, flag-off step first, every step reported.

The runbook runs outside any lock; each step's start and result go to the rollout's thread
and the audit table as they happen, and the rollback row keeps the results so far, so a
half-done rollback is visible as such. The row's lease (`lease_until`) is renewed as each
step starts (for that step's whole budget) and finishes, so a live run is never resumed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from bot.domain.actor import SCHEDULER, Actor
from bot.domain.roles import Role
from bot.domain.runbook import RunbookStep
from bot.providers.runbook.base import RunContext, StepResult
from bot.providers.runbook.children import StepInterrupted
from bot.providers.runbook.engine import run_runbook
from bot.providers.runbook.leftovers import run_marker
from bot.services.events import Said
from bot.services.rollback.claim import FAILED, LEASE_GRACE, SUCCEEDED, Claim, step_lease
from bot.services.rollback.context import RollbackContext
from bot.services.rollback.events import (
    RollbackFinished,
    RollbackResumed,
    RollbackStepFinished,
    RollbackStepStarted,
    RollbackWaiting,
    step_shown,
)
from bot.services.rollback.report import RollbackReport
from bot.services.rollouts.context import Outcome
from bot.store import audit, rollbacks, rollouts, run_locks

log = logging.getLogger(__name__)


class RunbookRun:
    """Runs a claimed rollback's runbook and tells the thread, the audit table and the
    listeners about it."""

    def __init__(self, ctx: RollbackContext) -> None:
        self.ctx = ctx

    def run(self, claim: Claim) -> RollbackReport:
        """Run the claimed rollback to its end; its run lock is let go however it ends."""
        try:
            report = self._run(claim)
        except StepInterrupted:
            claim.lock.release()  # rollbot is stopping: a replica may take it over now
            raise
        except BaseException:
            # A crash inside a live process: the run stays ours until its lease runs out.
            run_locks.orphan(claim.lock)
            raise
        claim.lock.release()
        return report

    def _run(self, claim: Claim) -> RollbackReport:
        started = time.monotonic()
        report, steps, actor = claim.report, claim.steps, claim.actor
        ctx = RunContext(
            flag_key=report.flag_key,
            rollout_id=report.rollout_id,
            reason=report.reason,
            actor=actor,
            flags=self.ctx.rollouts.flags,
            metrics=self.ctx.metrics,
            env=self.ctx.env,
            output_tail_chars=self.ctx.output_tail_chars,
            sleep=self.ctx.sleep,
            private=self.ctx.secret_names,
            run_marker=run_marker(self.ctx.db.fingerprint, report.rollback_id),
            databases=self.ctx.databases,
        )
        results: list[StepResult] = list(claim.done)
        total = len(steps)

        def record_start(index: int, step: RunbookStep) -> None:
            self._renew(report.rollback_id, steps, index)
            self._record_step(report, "rollback.step_started", {"step": step.name, "index": index})

        def record_result(index: int, step: RunbookStep, result: StepResult) -> None:
            results.append(result)
            self._save_steps(report.rollback_id, results)
            self._record_step(report, "rollback.step_finished", result.as_dict())

        first = len(results)  # the first step without a recorded result
        failed_step = next((r.name for r in results if not r.ok and not r.continued), None)
        if first == 0:
            # The flag goes off before any chat call or listener: a slow or unreachable Slack
            # (or an incident feature paging someone) must not delay protecting users.
            head = run_runbook(steps[:1], ctx, record_start, record_result)
            view = self.ctx.rollouts.view(report.rollout_id)
            self.ctx.rollouts.announce(Outcome(view, claim.text))
            self._tell(report)
            if claim.resumed:
                self._post(report, RollbackResumed(0, total))
            self._post(report, RollbackStepStarted(0, total, step_shown(steps[0])))
            self._post(report, RollbackStepFinished(0, total, head.results[0]))
            failed_step = head.failed_step
            first = 1
        elif claim.resumed and failed_step is None and first < total:
            self._post(report, RollbackResumed(first, total))
        if failed_step is None and first < total:
            offset = first

            def on_start(index: int, step: RunbookStep) -> None:
                record_start(index + offset, step)
                self._post(report, RollbackStepStarted(index + offset, total, step_shown(step)))

            def on_result(index: int, step: RunbookStep, result: StepResult) -> None:
                record_result(index + offset, step, result)
                self._post(report, RollbackStepFinished(index + offset, total, result))

            failed_step = run_runbook(steps[first:], ctx, on_start, on_result).failed_step
        finished = replace(
            report,
            steps=results,
            finished=True,
            failed=failed_step is not None,
            failed_step=failed_step,
            finished_at=self.ctx.clock.now(),
        )
        self._finish(finished, actor)
        text = self._finished(finished, total, time.monotonic() - started)
        self.ctx.rollouts.announce(Outcome(self.ctx.rollouts.view(report.rollout_id), text))
        self._tell(finished)
        return finished

    def wait_for_decision(self, claim: Claim) -> None:
        """Say in the thread (and on the card) that the rollback waits for a person."""
        index = len(claim.done)
        self._post(claim.report, RollbackWaiting(index, len(claim.steps), claim.steps[index].name))
        self.ctx.rollouts.announce(
            Outcome(self.ctx.rollouts.view(claim.report.rollout_id), claim.text)
        )

    def abort(self, claim: Claim) -> RollbackReport:
        """End a waiting rollback as failed at its step, as a person chose."""
        step = claim.steps[len(claim.done)].name
        finished = replace(
            claim.report,
            steps=list(claim.done),
            finished=True,
            failed=True,
            failed_step=step,
            finished_at=self.ctx.clock.now(),
        )
        self._post(claim.report, claim.text)
        text = self._finished(finished, len(claim.steps), 0.0)
        self.ctx.rollouts.announce(Outcome(self.ctx.rollouts.view(claim.report.rollout_id), text))
        self._tell(finished)
        return finished

    def run_logged(self, claim: Claim) -> None:
        try:
            self.run(claim)
        except StepInterrupted:
            # rollbot is stopping and killed the command: like a crash, nothing is recorded
            # for the step, and whoever resumes the rollback (its lease ran out) decides.
            log.warning(
                "rollback %s of %s stopped with rollbot mid-step; it resumes after its lease",
                claim.report.rollback_id,
                claim.report.flag_key,
            )
        except Exception:
            log.exception(
                "rollback %s of %s crashed", claim.report.rollback_id, claim.report.flag_key
            )

    def _finish(self, report: RollbackReport, actor: Actor) -> None:
        with self.ctx.db.session() as s:
            row = rollbacks.rollback_by_id(s, report.rollback_id, for_update=True)
            assert row is not None
            row.state = FAILED if report.failed else SUCCEEDED
            row.lease_until = None
            row.finished_at = report.finished_at
            row.failed_step = report.failed_step
            s.add(row)
            audit.record(
                s,
                actor=actor,
                at=self.ctx.clock.now(),
                action="rollback.failed" if report.failed else "rollback.succeeded",
                subject_type="rollout",
                subject_id=report.flag_key,
                after={"rollback_id": report.rollback_id, "failed_step": report.failed_step},
            )

    def _save_steps(self, rollback_id: int, results: list[StepResult]) -> None:
        with self.ctx.db.session() as s:
            row = rollbacks.rollback_by_id(s, rollback_id, for_update=True)
            if row is not None:
                row.steps = [r.as_dict() for r in results]
                row.lease_until = self.ctx.clock.now() + LEASE_GRACE
                s.add(row)

    def _renew(self, rollback_id: int, steps: list[RunbookStep], index: int) -> None:
        """Hold the lease for step `index`'s whole budget before running it."""
        with self.ctx.db.session() as s:
            row = rollbacks.rollback_by_id(s, rollback_id, for_update=True)
            if row is not None:
                row.lease_until = self.ctx.clock.now() + step_lease(steps, index)
                s.add(row)

    def _record_step(self, report: RollbackReport, action: str, after: dict[str, object]) -> None:
        with self.ctx.db.session() as s:
            audit.record(
                s,
                actor=SCHEDULER,
                at=self.ctx.clock.now(),
                action=action,
                subject_type="rollout",
                subject_id=report.flag_key,
                after={"rollback_id": report.rollback_id, **after},
            )

    def post(self, report: RollbackReport, message: Said) -> None:
        """One message in the rollout's thread."""
        self._post(report, message)

    def _post(self, report: RollbackReport, message: Said) -> None:
        """One thread message; a failure goes to the outbox, never stops the runbook."""
        self.ctx.rollouts.post(report.rollout_id, message)

    def _finished(self, report: RollbackReport, total: int, took_s: float) -> RollbackFinished:
        """The last thread message's event: done, or failed with who must take over."""
        people: tuple[str, ...] = ()
        roles: tuple[Role, ...] = ()
        if report.failed:
            people, roles = self._loud(report)
        return RollbackFinished(
            flag_key=report.flag_key,
            total=total,
            ran=len(report.steps),
            succeeded=sum(1 for s in report.steps if s.ok),
            took_s=took_s,
            failed=report.failed,
            failed_step=report.failed_step,
            runbook=report.runbook,
            partial=report.partial,
            people=people,
            roles=roles,
        )

    def _loud(self, report: RollbackReport) -> tuple[tuple[str, ...], tuple[Role, ...]]:
        """Who must hear about a failed rollback: owner, the person who ran it, ops roles."""
        with self.ctx.db.session() as s:
            row = rollouts.by_id(s, report.rollout_id)
            owner = row.started_by if row else None
        people = tuple(p for p in (owner, report.actor_id) if p and p != SCHEDULER.id)
        roles = (self.ctx.roles.role(role_id) for role_id in self.ctx.notify_roles)
        return people, tuple(role for role in roles if role is not None)

    def _tell(self, report: RollbackReport) -> None:
        for listener in self.ctx.listeners:
            try:
                listener(report)
            except Exception:
                # Another feature's bug must not stop or hide a rollback.
                log.exception("rollback listener %r failed", listener)
