"""Claiming a rollback: the rollout it targets, whether it may run, and the claim itself.

A rollback is claimed in one transaction under the rollout's row lock: the rollout becomes
`rolled_back` and a `rollback` row records the attempt, so an automatic and a manual rollback
(or two replicas) racing for the same rollout run the runbook once. A rollback whose process
died (its lease ran out while "running") is claimed again the same way to be resumed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from bot.domain import rollout as machine
from bot.domain.actor import SCHEDULER, Actor, Via
from bot.domain.errors import Conflict, InvalidTransition, NotFound
from bot.domain.message import Code, Message
from bot.domain.plan import Plan
from bot.domain.rollback import FiredTrigger, roll_back
from bot.domain.rollout import RolloutState
from bot.domain.runbook import FULL, RunbookStep, total_budget
from bot.providers.runbook.base import StepResult
from bot.services.rollback.context import RollbackContext
from bot.services.rollback.events import RollbackDecided, RollbackStarted, steps_shown
from bot.services.rollback.report import RollbackReport
from bot.services.rollouts.views import plan_of, snapshot_of
from bot.store import audit, rollbacks, rollouts, run_locks
from bot.store.models import RolloutRow
from bot.store.rollback_models import RollbackRow
from bot.store.run_locks import NO_LOCK, RunLock

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"
# Stopped at a step that may have run and is not safe to run again: a person decides.
WAITING = "waiting"

LEASE_GRACE = timedelta(minutes=5)
"""How long a rollback's lease outlives the step it was renewed for: chat calls and listeners
run between steps, and a lease that runs out under a live process would run a step twice."""


def step_lease(steps: list[RunbookStep], index: int) -> timedelta:
    """The lease taken when step `index` starts: its whole budget (every attempt timing out)
    plus the grace; past the last step, the grace alone."""
    budget = total_budget(steps[index : index + 1]) if index < len(steps) else timedelta(0)
    return budget + LEASE_GRACE


@dataclass(frozen=True)
class Claim:
    """A claimed rollback, ready to run: its report so far, steps, first message, actor."""

    report: RollbackReport
    steps: list[RunbookStep]
    text: RollbackStarted | RollbackDecided
    actor: Actor
    done: tuple[StepResult, ...] = ()
    """Results recorded before the process running it died (a resumed rollback)."""
    resumed: bool = False
    lock: RunLock = NO_LOCK
    """Held while this process runs it (PostgreSQL): a replica sees the run is alive."""


class RollbackClaims:
    """Finds the rollout to roll back, refuses what may not run, and claims the run."""

    def __init__(self, ctx: RollbackContext) -> None:
        self.ctx = ctx

    def target(self, s: Session, flag_key: str, lock: bool) -> RolloutRow:
        row = rollouts.active_for_flag(s, flag_key, for_update=lock)
        if row is None:
            latest = rollouts.latest_for_flag(s, flag_key)
            if latest is not None and lock:
                assert latest.id is not None
                latest = rollouts.by_id(s, latest.id, for_update=True)
            row = latest
        if row is None:
            raise NotFound(
                Message(Code(flag_key), " has no rollout to roll back."),
                Message("Check the flag key with ", Code("/rollout list"), "."),
            )
        return row

    def check_rollable(self, s: Session, row: RolloutRow, runbook: str = FULL) -> bool:
        """Refuse a rollout already rolled back, or one a runbook is running on now; True
        when this retries a failed rollback."""
        assert row.id is not None
        plan = plan_of(row)
        if not plan.has_runbook(runbook):
            raise NotFound(
                Message("The plan of ", Code(row.flag_key), f" has no runbook called {runbook!r}."),
                f"Runbooks: {', '.join(plan.runbook_names())}.",
            )
        last = rollbacks.latest_rollback(s, row.id)
        if last is not None and last.state == RUNNING and not self._abandoned(row, last):
            raise Conflict(
                Message(
                    Code(row.flag_key),
                    f" is being rolled back right now (started {last.started_at:%H:%M:%S} UTC, "
                    f"runbook {rollbacks.runbook_of(last, FULL)}); nothing more was run.",
                ),
                "Follow it in the rollout's thread.",
            )
        if last is not None and last.state == WAITING:
            raise Conflict(
                Message(
                    "The rollback of ",
                    Code(row.flag_key),
                    f" waits for a decision on step “{last.failed_step}”; nothing more was run.",
                ),
                "Press Re-run, Skip or Abort on the rollout's card.",
            )
        if row.state != RolloutState.ROLLED_BACK.value:
            return False
        if plan.runbook_partial(runbook):
            raise InvalidTransition(
                Message(
                    Code(row.flag_key),
                    f" is already rolled back (its flag is off); the partial runbook {runbook} "
                    "was not run.",
                ),
                Message("Start it again with ", Code(f"/rollout start {row.flag_key}"), "."),
            )
        if last is not None and last.state in (FAILED, RUNNING):
            return True  # a half-done (or abandoned) rollback may be run again
        raise InvalidTransition(
            Message(Code(row.flag_key), " is already rolled back; nothing was run."),
            Message(
                "Start it again with ", Code(f"/rollout start {row.flag_key}"), " when it is fixed."
            ),
        )

    def _abandoned(self, row: RolloutRow, last: RollbackRow) -> bool:
        """True when a "running" rollback has outlived every step's whole budget: the process
        running it died, so a person may run the runbook again."""
        now = self.ctx.clock.now()
        if last.lease_until is not None and last.lease_until > now:
            return False  # a process (perhaps one that resumed it) is running it
        steps = _steps_of(plan_of(row), rollbacks.runbook_of(last, FULL))
        budget = total_budget(steps) + timedelta(minutes=5)
        return now - last.started_at > budget

    def claim(
        self,
        s: Session,
        row: RolloutRow,
        actor: Actor,
        reason: str,
        fired: list[FiredTrigger],
        automatic: bool,
        runbook: str = FULL,
    ) -> Claim:
        """Claim a run of `runbook` on the locked rollout `row`: the full runbook rolls the
        rollout back; a partial one pauses it (when running) and leaves its flag alone."""
        assert row.id is not None
        now = self.ctx.clock.now()
        plan, before = plan_of(row), snapshot_of(row)
        partial = plan.runbook_partial(runbook)
        after = before
        if partial:
            if before.state is RolloutState.RUNNING:
                after = machine.pause(before, now, row.flag_key)
                rollouts.apply_snapshot(row, after, now)
                s.add(row)
        elif before.state is not RolloutState.ROLLED_BACK:
            after = roll_back(before, now)
            rollouts.apply_snapshot(row, after, now)
            s.add(row)
        last = rollbacks.latest_rollback(s, row.id)
        if last is not None and last.state == RUNNING:
            # Only reached when it was abandoned (see _check_rollable): say so in its row.
            last.state, last.finished_at = FAILED, now
            last.failed_step = "(abandoned: rollbot stopped while it ran)"
            s.add(last)
        record = rollbacks.start_rollback(
            s,
            rollout_id=row.id,
            flag_key=row.flag_key,
            attempt=(last.attempt + 1) if last else 1,
            automatic=automatic,
            actor=actor.id,
            reason=reason,
            trigger={"fired": [t.as_dict() for t in fired]} if fired else None,
            started_at=now,
            lease_until=now + step_lease(plan.runbook_steps(runbook), 0),
            runbook=runbook if runbook != FULL else None,
        )
        assert record.id is not None
        # Taken before the claim commits, so no replica ever sees it running and unheld.
        lock = run_locks.take(self.ctx.db, record.id) or NO_LOCK
        audit.record(
            s,
            actor=actor,
            at=now,
            action="rollback.started",
            subject_type="rollout",
            subject_id=row.flag_key,
            before={"state": before.state.value, "percentage": before.percentage},
            after={
                "state": after.state.value,
                "rollback_id": record.id,
                "automatic": automatic,
                "triggers": [t.as_dict() for t in fired],
                "runbook": runbook,
                "partial": partial,
            },
            detail=reason,
        )
        steps = plan.runbook_steps(runbook)
        report = RollbackReport(
            record.id,
            row.id,
            row.flag_key,
            automatic,
            actor.id,
            reason,
            now,
            list(fired),
            channel_id=row.channel_id,
            message_ts=row.message_ts,
            runbook=runbook,
            partial=partial,
        )
        text = RollbackStarted(
            row.flag_key,
            automatic,
            actor,
            reason,
            now,
            steps_shown(steps),
            tuple(fired),
            runbook,
            partial,
            before.percentage,
        )
        return Claim(report, steps, text, actor, lock=lock)

    def claim_interrupted(self, rollback_id: int, rollout_id: int) -> Claim | None:
        """Take over a rollback whose runner died: its lease ran out, or (PostgreSQL) its
        run lock is free, which the server makes so the moment the runner's session ends.
        None when it is alive, finished, superseded, or another replica has it."""
        lock = run_locks.adopt(rollback_id) or run_locks.take(self.ctx.db, rollback_id)
        if lock is None:
            return None  # its runner is alive (here or on another replica)
        try:
            claim = self._claim_interrupted(rollback_id, rollout_id, lock)
        except BaseException:
            run_locks.keep_orphan(lock) if lock.adopted else lock.release()
            raise
        if claim is None:
            run_locks.keep_orphan(lock) if lock.adopted else lock.release()
        return claim

    def _claim_interrupted(self, rollback_id: int, rollout_id: int, lock: RunLock) -> Claim | None:
        now = self.ctx.clock.now()
        with self.ctx.db.session() as s:
            # The rollout's lock first, as a manual `/rollback` takes it: the two serialize.
            rollout = rollouts.claim(s, rollout_id, skip_locked=True)
            if rollout is None:
                return None
            row = rollbacks.claim_rollback(s, rollback_id)
            if row is None or row.state != RUNNING:
                return None
            # With the run lock ours, nobody is running it; without one (SQLite), only an
            # expired lease says so. (A held-for-a-person rollback has no lease.)
            # A run that crashed in this process (its lock adopted) waits for its lease.
            expired = row.lease_until is not None and row.lease_until <= now
            dead = expired or (lock.held and not lock.adopted)
            if not dead:
                return None
            latest = rollbacks.latest_rollback(s, rollout_id)
            if latest is not None and latest.id != row.id:
                return None  # a newer attempt superseded it
            steps = _steps_of(plan_of(rollout), rollbacks.runbook_of(row, FULL))
            done = tuple(_result_of(d) for d in row.steps[: len(steps)])
            row.lease_until = now + step_lease(steps, len(done))
            s.add(row)
            actor = Actor(row.actor, Via.SCHEDULER) if row.actor != SCHEDULER.id else SCHEDULER
            audit.record(
                s,
                actor=SCHEDULER,
                at=now,
                action="rollback.resumed",
                subject_type="rollout",
                subject_id=row.flag_key,
                after={"rollback_id": row.id, "step": len(done) + 1, "of": len(steps)},
                detail="resumed after a restart",
            )
            report = _report_so_far(row, rollout, done)
            text = RollbackStarted(
                row.flag_key,
                row.automatic,
                actor,
                row.reason,
                row.started_at,
                steps_shown(steps),
                (),
                report.runbook,
                report.partial,
                rollout.percentage,
            )
        return Claim(report, steps, text, actor, done, resumed=True, lock=lock)

    def hold_for_decision(self, claim: Claim) -> RollbackReport:
        """Park a resumed rollback at the step that was in flight (not safe to run twice):
        no lease, so no tick resumes it; a person re-runs, skips or aborts it."""
        index = len(claim.done)
        step = claim.steps[index]
        now = self.ctx.clock.now()
        with self.ctx.db.session() as s:
            row = rollbacks.rollback_by_id(s, claim.report.rollback_id, for_update=True)
            if row is None:
                claim.lock.release()
                return claim.report
            row.state, row.lease_until, row.failed_step = WAITING, None, step.name
            s.add(row)
            audit.record(
                s,
                actor=SCHEDULER,
                at=now,
                action="rollback.waiting",
                subject_type="rollout",
                subject_id=claim.report.flag_key,
                after={"rollback_id": row.id, "step": step.name, "index": index},
                detail="the step in flight is not safe to run twice",
            )
        claim.lock.release()  # after the commit: "waiting" is never seen unheld as "running"
        return claim.report

    def claim_decided(self, rollback_id: int, choice: str, actor: Actor) -> Claim:
        """Take a rollback waiting at a step: `rerun` runs that step again, `skip` records it
        as skipped and goes on, `abort` ends the rollback as failed there (the claim then has
        nothing left to run). Raises when it is not waiting any more."""
        now = self.ctx.clock.now()
        with self.ctx.db.session() as s:
            row = rollbacks.rollback_by_id(s, rollback_id, for_update=True)
            if row is None or row.state != WAITING:
                raise Conflict(
                    "That rollback is not waiting for a decision any more.",
                    "See the rollout's card and thread for where it stands.",
                )
            rollout = rollouts.by_id(s, row.rollout_id, for_update=True)
            assert rollout is not None and row.id is not None
            steps = _steps_of(plan_of(rollout), rollbacks.runbook_of(row, FULL))
            done = [_result_of(d) for d in row.steps[: len(steps)]]
            step = steps[len(done)]
            if choice == "skip":
                done.append(
                    StepResult(
                        step.name,
                        step.kind,
                        False,
                        0,
                        0.0,
                        "",
                        f"skipped by {actor.id}",
                        continued=True,
                    )
                )
                row.steps = [r.as_dict() for r in done]
            lock = NO_LOCK
            if choice == "abort":
                row.state, row.finished_at, row.lease_until = FAILED, now, None
            else:
                row.state, row.failed_step = RUNNING, None
                row.lease_until = now + step_lease(steps, len(done))
                lock = run_locks.take(self.ctx.db, rollback_id) or NO_LOCK
            s.add(row)
            audit.record(
                s,
                actor=actor,
                at=now,
                action="rollback.decided",
                subject_type="rollout",
                subject_id=row.flag_key,
                after={"rollback_id": row.id, "step": step.name, "choice": choice},
            )
            report = _report_so_far(row, rollout, done)
        text = RollbackDecided(choice, actor, step.name)
        return Claim(report, steps, text, actor, tuple(done), lock=lock)


def _steps_of(plan: Plan, runbook: str) -> list[RunbookStep]:
    """The steps of `runbook` (the full one when the plan no longer has it)."""
    return plan.runbook_steps(runbook if plan.has_runbook(runbook) else FULL)


def _report_so_far(
    row: RollbackRow, rollout: RolloutRow, done: Sequence[StepResult]
) -> RollbackReport:
    """The report of a rollback taken up again: what its row says, the steps done so far."""
    assert row.id is not None
    plan = plan_of(rollout)
    runbook = rollbacks.runbook_of(row, FULL)
    partial = plan.has_runbook(runbook) and plan.runbook_partial(runbook)
    return RollbackReport(
        row.id,
        row.rollout_id,
        row.flag_key,
        row.automatic,
        row.actor,
        row.reason,
        row.started_at,
        [],
        list(done),
        channel_id=rollout.channel_id,
        message_ts=rollout.message_ts,
        runbook=runbook,
        partial=partial,
    )


def _result_of(stored: Mapping[str, object]) -> StepResult:
    """A step result as the rollback row stored it (`StepResult.as_dict`)."""
    duration = stored.get("duration_s", 0.0)
    attempts = stored.get("attempts", 1)
    error = stored.get("error")
    return StepResult(
        name=str(stored.get("name", "")),
        kind=str(stored.get("kind", "")),
        ok=bool(stored.get("ok", False)),
        attempts=attempts if isinstance(attempts, int) else 1,
        duration_s=float(duration) if isinstance(duration, (int, float)) else 0.0,
        output=str(stored.get("output") or ""),
        error=str(error) if error is not None else None,
        continued=bool(stored.get("continued", False)),
    )
