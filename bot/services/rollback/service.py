"""Rolling back: claim the rollout, run its runbook, report every step, finish loudly.

A rollback is claimed in one transaction under the rollout's row lock: the rollout becomes
`rolled_back` and a `rollback` row records the attempt, so an automatic and a manual rollback
(or two replicas) racing for the same rollout run the runbook once. The runbook then runs
outside any lock, flag-off step first; each step's start and result go to the rollout's thread
and the audit table as they happen, and the rollback row keeps the results so far, so a
half-done rollback is visible as such.

While it runs, the rollback row holds a lease (`lease_until`), renewed as each step starts
(for that step's whole budget) and finishes. If the process dies, the lease runs out and the
scheduler's tick (`resume_interrupted`) claims the row under a row lock and continues the
runbook from the first step without a recorded result; a step that was in flight is re-run.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlmodel import Session

from bot.domain.actor import SCHEDULER, Actor, Via
from bot.domain.errors import Conflict, InvalidTransition, NotFound, RollbotError
from bot.domain.roles import RoleDirectory
from bot.domain.rollback import FiredTrigger, roll_back
from bot.domain.rollout import RolloutState
from bot.domain.runbook import RunbookStep, effective_steps, total_budget
from bot.providers.metrics.base import MetricsProvider
from bot.providers.runbook.base import RunContext, StepResult
from bot.providers.runbook.engine import run_runbook
from bot.services.rollback.report import (
    RollbackPreview,
    RollbackReport,
    finished_text,
    preview_lines,
    resumed_text,
    started_text,
    step_result_text,
    step_started_text,
)
from bot.services.rollouts import notifier as notify
from bot.services.rollouts.reading import Outcome
from bot.services.rollouts.service import RolloutService
from bot.services.rollouts.views import plan_of, snapshot_of
from bot.store import audit, rollbacks, rollouts
from bot.store.models import RolloutRow
from bot.store.rollback_models import RollbackRow

log = logging.getLogger(__name__)

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"

Listener = Callable[[RollbackReport], None]

LEASE_GRACE = timedelta(minutes=5)
"""How long a rollback's lease outlives the step it was renewed for: chat calls and listeners
run between steps, and a lease that runs out under a live process would run a step twice."""


def _step_lease(steps: list[RunbookStep], index: int) -> timedelta:
    """The lease taken when step `index` starts: its whole budget (every attempt timing out)
    plus the grace; past the last step, the grace alone."""
    budget = total_budget(steps[index : index + 1]) if index < len(steps) else timedelta(0)
    return budget + LEASE_GRACE


@dataclass(frozen=True)
class _Claim:
    """A claimed rollback, ready to run: its report so far, steps, first message, actor."""

    report: RollbackReport
    steps: list[RunbookStep]
    text: str
    actor: Actor
    done: tuple[StepResult, ...] = ()
    """Results recorded before the process running it died (a resumed rollback)."""
    resumed: bool = False


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
    ) -> None:
        self.rollouts = rollouts_service
        self.db = rollouts_service.db
        self.clock = rollouts_service.clock
        self.metrics = metrics
        self.env = env
        self.roles = roles or RoleDirectory()
        self.notify_roles = notify_roles or []
        self.output_tail_chars = output_tail_chars
        self.sleep = sleep
        self.spawn: Callable[[Callable[[], None]], None] | None = None
        """When set, automatic rollbacks run their runbook through it (the scheduler sets a
        thread starter); unset, they run before `roll_back_automatically` returns."""
        self.listeners: list[Listener] = []
        """Called with a report when a rollback starts and when it finishes (see README)."""

    # -- asking ----------------------------------------------------------------------------

    def preview(self, flag_key: str, actor: Actor) -> RollbackPreview:
        """What a rollback of `flag_key` would run; refuses as `roll_back` would."""
        self.rollouts.permissions.require(actor, "rollback", "Rolling back")
        with self.db.session() as s:
            row = self._target(s, flag_key, lock=False)
            retry = self._check_rollable(s, row)
            assert row.id is not None
            steps = effective_steps(plan_of(row).runbook)
            return RollbackPreview(
                flag_key, row.id, row.state, row.percentage, preview_lines(steps), retry
            )

    # -- doing -----------------------------------------------------------------------------

    def roll_back(self, flag_key: str, actor: Actor, reason: str) -> RollbackReport:
        """Roll `flag_key`'s rollout back by hand, with a reason people will read."""
        self.rollouts.permissions.require(actor, "rollback", "Rolling back")
        reason = " ".join(reason.split())
        if not reason:
            raise RollbotError(
                "A rollback needs a reason.", f"Example: `/rollback {flag_key} error rate is up`."
            )
        with self.db.session() as s:
            row = self._target(s, flag_key, lock=True)
            self._check_rollable(s, row)
            claimed = self._claim(s, row, actor, reason, [], automatic=False)
        return self._run(claimed)

    def roll_back_automatically(
        self, rollout_id: int, fired: list[FiredTrigger]
    ) -> RollbackReport | None:
        """Roll back because triggers fired; None when the rollout is no longer active."""
        reason = "; ".join(f"trigger {t.name} fired" for t in fired)
        with self.db.session() as s:
            row = rollouts.claim(s, rollout_id, skip_locked=False)
            if row is None or RolloutState(row.state) not in (
                RolloutState.RUNNING,
                RolloutState.PAUSED,
            ):
                return None  # finished or rolled back by someone else meanwhile
            claimed = self._claim(s, row, SCHEDULER, reason, fired, automatic=True)
        if self.spawn is not None:
            # The runbook (flag-off first) runs on its own thread; the evaluation job goes on
            # watching the other rollouts instead of waiting minutes for drain and deploy.
            self.spawn(lambda: self._run_logged(claimed))
            return claimed.report
        return self._run(claimed)

    def _run_logged(self, claim: _Claim) -> None:
        try:
            self._run(claim)
        except Exception:
            log.exception(
                "rollback %s of %s crashed", claim.report.rollback_id, claim.report.flag_key
            )

    # -- the parts -------------------------------------------------------------------------

    def _target(self, s: Session, flag_key: str, lock: bool) -> RolloutRow:
        row = rollouts.active_for_flag(s, flag_key, for_update=lock)
        if row is None:
            latest = rollouts.latest_for_flag(s, flag_key)
            if latest is not None and lock:
                assert latest.id is not None
                latest = rollouts.by_id(s, latest.id, for_update=True)
            row = latest
        if row is None:
            raise NotFound(
                f"`{flag_key}` has no rollout to roll back.",
                "Check the flag key with `/rollout list`.",
            )
        return row

    def _check_rollable(self, s: Session, row: RolloutRow) -> bool:
        """Refuse a rollout already rolled back; True when this retries a failed rollback."""
        if row.state != RolloutState.ROLLED_BACK.value:
            return False
        assert row.id is not None
        last = rollbacks.latest_rollback(s, row.id)
        if last is not None and last.state == RUNNING and not self._abandoned(row, last):
            raise Conflict(
                f"`{row.flag_key}` is being rolled back right now (started "
                f"{last.started_at:%H:%M:%S} UTC); nothing more was run.",
                "Follow it in the rollout's thread.",
            )
        if last is not None and last.state in (FAILED, RUNNING):
            return True  # a half-done (or abandoned) rollback may be run again
        raise InvalidTransition(
            f"`{row.flag_key}` is already rolled back; nothing was run.",
            f"Start it again with `/rollout start {row.flag_key}` when it is fixed.",
        )

    def _abandoned(self, row: RolloutRow, last: RollbackRow) -> bool:
        """True when a "running" rollback has outlived every step's whole budget: the process
        running it died, so a person may run the runbook again."""
        now = self.clock.now()
        if last.lease_until is not None and last.lease_until > now:
            return False  # a process (perhaps one that resumed it) is running it
        budget = total_budget(effective_steps(plan_of(row).runbook)) + timedelta(minutes=5)
        return now - last.started_at > budget

    def _claim(
        self,
        s: Session,
        row: RolloutRow,
        actor: Actor,
        reason: str,
        fired: list[FiredTrigger],
        automatic: bool,
    ) -> _Claim:
        assert row.id is not None
        now = self.clock.now()
        plan, before = plan_of(row), snapshot_of(row)
        if before.state is not RolloutState.ROLLED_BACK:
            rollouts.apply_snapshot(row, roll_back(before, now), now)
            s.add(row)
        last = rollbacks.latest_rollback(s, row.id)
        if last is not None and last.state == RUNNING:
            # Only reached when it was abandoned (see _check_rollable): say so in its row.
            last.state, last.finished_at = FAILED, now
            last.failed_step = "(abandoned: rollbot stopped while it ran)"
            s.add(last)
        record = RollbackRow(
            rollout_id=row.id,
            flag_key=row.flag_key,
            attempt=(last.attempt + 1) if last else 1,
            automatic=automatic,
            actor=actor.id,
            reason=reason,
            trigger={"fired": [t.as_dict() for t in fired]} if fired else None,
            state=RUNNING,
            started_at=now,
            lease_until=now + _step_lease(effective_steps(plan.runbook), 0),
        )
        s.add(record)
        s.flush()
        assert record.id is not None
        audit.record(
            s,
            actor=actor,
            at=now,
            action="rollback.started",
            subject_type="rollout",
            subject_id=row.flag_key,
            before={"state": before.state.value, "percentage": before.percentage},
            after={
                "state": RolloutState.ROLLED_BACK.value,
                "rollback_id": record.id,
                "automatic": automatic,
                "triggers": [t.as_dict() for t in fired],
            },
            detail=reason,
        )
        steps = effective_steps(plan.runbook)
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
        )
        text = started_text(row.flag_key, automatic, actor.mention, reason, fired, now, steps)
        return _Claim(report, steps, text, actor)

    def _run(self, claim: _Claim) -> RollbackReport:
        started = time.monotonic()
        report, steps, actor = claim.report, claim.steps, claim.actor
        ctx = RunContext(
            flag_key=report.flag_key,
            rollout_id=report.rollout_id,
            reason=report.reason,
            actor=actor,
            flags=self.rollouts.flags,
            metrics=self.metrics,
            env=self.env,
            output_tail_chars=self.output_tail_chars,
            sleep=self.sleep,
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
            self.rollouts.announce(Outcome(self.rollouts.view(report.rollout_id), claim.text))
            self._tell(report)
            if claim.resumed:
                self._post(report, resumed_text(0, total))
            self._post(report, step_started_text(0, total, steps[0]))
            self._post(report, step_result_text(0, total, head.results[0]))
            failed_step = head.failed_step
            first = 1
        elif claim.resumed and failed_step is None and first < total:
            self._post(report, resumed_text(first, total))
        if failed_step is None and first < total:
            offset = first

            def on_start(index: int, step: RunbookStep) -> None:
                record_start(index + offset, step)
                self._post(report, step_started_text(index + offset, total, step))

            def on_result(index: int, step: RunbookStep, result: StepResult) -> None:
                record_result(index + offset, step, result)
                self._post(report, step_result_text(index + offset, total, result))

            failed_step = run_runbook(steps[first:], ctx, on_start, on_result).failed_step
        finished = replace(
            report,
            steps=results,
            finished=True,
            failed=failed_step is not None,
            failed_step=failed_step,
            finished_at=self.clock.now(),
        )
        self._finish(finished, actor)
        text = finished_text(finished, total, self._loud(report), time.monotonic() - started)
        self.rollouts.announce(Outcome(self.rollouts.view(report.rollout_id), text))
        self._tell(finished)
        return finished

    # -- resuming after a restart ----------------------------------------------------------

    def resume_interrupted(self) -> list[RollbackReport]:
        """Resume rollbacks whose process died mid-runbook (their lease ran out while
        "running"), each claimed by one replica under a row lock. Runs them through `spawn`
        when set (the scheduler's threads); returns what was resumed (finished reports when
        run here, the claimed reports when spawned)."""
        with self.db.session() as s:
            candidates = rollbacks.lease_expired(s, self.clock.now())
        reports: list[RollbackReport] = []
        for rollback_id, rollout_id in candidates:
            claimed = self._claim_interrupted(rollback_id, rollout_id)
            if claimed is None:
                continue  # another replica (or tick) has it, or it finished meanwhile
            log.warning(
                "resuming rollback %s of %s after a restart at step %d",
                rollback_id,
                claimed.report.flag_key,
                len(claimed.done) + 1,
            )
            if self.spawn is not None:
                self.spawn(functools.partial(self._run_logged, claimed))
                reports.append(claimed.report)
            else:
                reports.append(self._run(claimed))
        return reports

    def _claim_interrupted(self, rollback_id: int, rollout_id: int) -> _Claim | None:
        now = self.clock.now()
        with self.db.session() as s:
            # The rollout's lock first, as a manual `/rollback` takes it: the two serialize.
            rollout = rollouts.claim(s, rollout_id, skip_locked=True)
            if rollout is None:
                return None
            row = rollbacks.claim_rollback(s, rollback_id)
            if (
                row is None
                or row.state != RUNNING
                or row.lease_until is None
                or row.lease_until > now
            ):
                return None
            latest = rollbacks.latest_rollback(s, rollout_id)
            if latest is not None and latest.id != row.id:
                return None  # a newer attempt superseded it
            steps = effective_steps(plan_of(rollout).runbook)
            done = tuple(_result_of(d) for d in row.steps[: len(steps)])
            row.lease_until = now + _step_lease(steps, len(done))
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
            assert row.id is not None
            report = RollbackReport(
                row.id,
                rollout_id,
                row.flag_key,
                row.automatic,
                row.actor,
                row.reason,
                row.started_at,
                [],
                list(done),
                channel_id=rollout.channel_id,
                message_ts=rollout.message_ts,
            )
            text = started_text(
                row.flag_key, row.automatic, actor.mention, row.reason, [], row.started_at, steps
            )
        return _Claim(report, steps, text, actor, done, resumed=True)

    def _finish(self, report: RollbackReport, actor: Actor) -> None:
        with self.db.session() as s:
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
                at=self.clock.now(),
                action="rollback.failed" if report.failed else "rollback.succeeded",
                subject_type="rollout",
                subject_id=report.flag_key,
                after={"rollback_id": report.rollback_id, "failed_step": report.failed_step},
            )

    def _save_steps(self, rollback_id: int, results: list[StepResult]) -> None:
        with self.db.session() as s:
            row = rollbacks.rollback_by_id(s, rollback_id, for_update=True)
            if row is not None:
                row.steps = [r.as_dict() for r in results]
                row.lease_until = self.clock.now() + LEASE_GRACE
                s.add(row)

    def _renew(self, rollback_id: int, steps: list[RunbookStep], index: int) -> None:
        """Hold the lease for step `index`'s whole budget before running it."""
        with self.db.session() as s:
            row = rollbacks.rollback_by_id(s, rollback_id, for_update=True)
            if row is not None:
                row.lease_until = self.clock.now() + _step_lease(steps, index)
                s.add(row)

    def _record_step(self, report: RollbackReport, action: str, after: dict[str, object]) -> None:
        with self.db.session() as s:
            audit.record(
                s,
                actor=SCHEDULER,
                at=self.clock.now(),
                action=action,
                subject_type="rollout",
                subject_id=report.flag_key,
                after={"rollback_id": report.rollback_id, **after},
            )

    def _post(self, report: RollbackReport, text: str) -> None:
        """One thread message; a failure goes to the outbox, never stops the runbook."""
        try:
            view = self.rollouts.view(report.rollout_id)
            self.rollouts.notifier.post_event(view, text)
        except Exception as exc:
            log.warning("could not post rollback step for %s: %s", report.flag_key, exc)
            notify.queue(
                self.db,
                "rollout",
                {"rollout_id": report.rollout_id, "text": text},
                str(exc),
                self.clock.now(),
            )

    def _loud(self, report: RollbackReport) -> list[str]:
        """Who must hear about a failed rollback: owner, the person who ran it, ops roles."""
        with self.db.session() as s:
            row = rollouts.by_id(s, report.rollout_id)
            owner = row.started_by if row else None
        people = [p for p in (owner, report.actor_id) if p and p != SCHEDULER.id]
        mentions = [f"<@{p}>" if p[:1] in ("U", "W") else p for p in people]
        for role_id in self.notify_roles:
            role = self.roles.role(role_id)
            if role is not None:
                holders = [f"<@{m}>" if m[:1] in ("U", "W") else m for m in role.members]
                holders += [f"<!subteam^{role.usergroup}>"] if role.usergroup else []
                who = ", ".join(holders) or "nobody yet (add members in the config)"
                mentions.append(f"{role.name} ({who})")
        return mentions

    def _tell(self, report: RollbackReport) -> None:
        for listener in list(self.listeners):
            try:
                listener(report)
            except Exception:
                # Another feature's bug must not stop or hide a rollback.
                log.exception("rollback listener %r failed", listener)


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
