"""Changing rollouts: start, advance, pause, resume, set a percentage, advance due steps.

Every change runs in one transaction that locks the rollout row (FOR UPDATE on PostgreSQL,
BEGIN IMMEDIATE on SQLite), sets the flag through the provider in that same transaction and
writes its audit event, so a change happens entirely or not at all, and two changes to one
rollout never interleave. Chat notification follows the commit (the announcer).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.domain import rollout as machine
from bot.domain.actor import SCHEDULER, Actor
from bot.domain.errors import Conflict, InvalidTransition, NotFound, RollbotError
from bot.domain.flag import FLAG_KEY_HINT, FlagChange, is_valid_flag_key
from bot.domain.message import Code, Message
from bot.domain.plan import Plan
from bot.domain.rollout import RolloutSnapshot
from bot.providers.flags.base import BatchFlagProvider, SegmentCheckingProvider
from bot.services.rollouts.announce import RolloutAnnouncer
from bot.services.rollouts.context import Outcome, RolloutContext
from bot.services.rollouts.events import rollout_changed, rollout_started
from bot.services.rollouts.holds import HoldQuery
from bot.services.rollouts.reading import RolloutReader, no_rollout
from bot.services.rollouts.views import plan_of, snapshot_of
from bot.store import audit, rollbacks, rollouts
from bot.store.database import Transaction
from bot.store.models import RolloutRow

log = logging.getLogger(__name__)

# Due rollouts claimed and advanced per transaction by the scheduler's tick.
DUE_BATCH = 1000

Transform = Callable[[Plan, RolloutSnapshot, datetime], RolloutSnapshot]
"""A change to a rollout: the plan, the snapshot before and the time give the one after."""


def snapshot_dict(snap: RolloutSnapshot) -> dict[str, Any]:
    """A snapshot as the audit log records it (before / after of a change)."""
    return {
        "state": snap.state.value,
        "step": snap.step_index,
        "percentage": snap.percentage,
        "due_at": snap.step_due_at.isoformat() if snap.step_due_at else None,
    }


class RolloutChanges:
    """Starts, advances, pauses, resumes and sets the percentage of rollouts."""

    def __init__(
        self, ctx: RolloutContext, reader: RolloutReader, announcer: RolloutAnnouncer
    ) -> None:
        self.ctx = ctx
        self.reader = reader
        self.announcer = announcer

    def start(
        self,
        flag_key: str,
        plan_name: str | None,
        actor: Actor,
        channel_id: str | None = None,
        force: bool = False,
    ) -> Outcome:
        """Start a rollout of `flag_key` with a plan (named, written for the flag, or default).

        After a rollback that failed half-way the system may be half reverted: starting again
        needs `force` (recorded in the audit table)."""
        self.ctx.permissions.require(actor, "start", "Starting a rollout")
        if not is_valid_flag_key(flag_key):
            raise RollbotError(
                Message(Code(flag_key), " is not a valid flag key."), FLAG_KEY_HINT + "."
            )
        plan = self._choose_plan(flag_key, plan_name)
        now = self.ctx.clock.now()
        snap = machine.start(plan, now)
        try:
            with self.ctx.db.session() as s:
                existing = rollouts.active_for_flag(s, flag_key, for_update=True)
                if existing is not None:
                    raise InvalidTransition(
                        Message(
                            Code(flag_key),
                            " already has a rollout in progress "
                            f"(step {existing.step_index + 1}, {existing.percentage}%).",
                        ),
                        Message("See it with ", Code(f"/rollout status {flag_key}"), "."),
                    )
                unfinished = self._unfinished_rollback(s, flag_key)
                if unfinished is not None and not force:
                    raise InvalidTransition(
                        Message(
                            "The last rollback of ",
                            Code(flag_key),
                            f" did not finish (it failed at step {unfinished!r}): "
                            "the system may be half rolled back.",
                        ),
                        Message(
                            "Finish it by hand (or ",
                            Code(f"/rollback {flag_key}"),
                            " again), then start with ",
                            Code(f"/rollout start {flag_key} --force"),
                            ".",
                        ),
                    )
                row = rollouts.create(
                    s,
                    flag_key=flag_key,
                    plan_name=plan.name,
                    plan=plan.model_dump(mode="json"),
                    snapshot=snap,
                    started_by=actor.id,
                    now=now,
                    channel_id=channel_id,
                )
                segments = plan.segment_names()
                if segments and isinstance(self.ctx.flags, SegmentCheckingProvider):
                    # Refuse now a plan whose segment step the flag system could not take
                    # (after the row: it flushes first, so a start race is lost before).
                    self.ctx.flags.check_segments(flag_key, segments, actor, Transaction(s))
                self._set_flag(s, flag_key, snap, actor, initial=True, plan=plan)
                s.flush()
                audit.record(
                    s,
                    actor=actor,
                    at=now,
                    action="rollout.started",
                    subject_type="rollout",
                    subject_id=flag_key,
                    before=None,
                    after={**snapshot_dict(snap), "plan": plan.name},
                    detail=(
                        f"forced past the unfinished rollback (failed at {unfinished!r})"
                        if unfinished is not None
                        else None
                    ),
                )
                view = self.reader.view_of(s, row, now)
        except IntegrityError:
            raise Conflict(
                Message(Code(flag_key), " was just started by someone else."),
                Message("See it with ", Code(f"/rollout status {flag_key}"), "."),
            ) from None
        return self.announcer.announce(Outcome(view, rollout_started(flag_key, plan, snap, actor)))

    def _unfinished_rollback(self, s: Session, flag_key: str) -> str | None:
        """The step the flag's last rollback failed at, when it failed (else None)."""
        last = rollouts.latest_for_flag(s, flag_key)
        if last is None or last.id is None:
            return None
        attempt = rollbacks.latest_rollback(s, last.id)
        if attempt is None or attempt.state != "failed":
            return None
        return attempt.failed_step or "?"

    def advance(self, flag_key: str, actor: Actor, expected_step: int | None = None) -> Outcome:
        """Move to the next step now.

        `expected_step` is the step the person saw (a button carries it): if the rollout has
        moved since, the request is stale and changes nothing. Without it (a typed command),
        an advance made by someone else moments ago is not repeated.
        """
        self.ctx.permissions.require(actor, "advance", "Advancing a rollout")
        now = self.ctx.clock.now()

        def transform(plan: Plan, snap: RolloutSnapshot, at: datetime) -> RolloutSnapshot:
            after = machine.advance(plan, snap, at, flag_key)  # refuses paused or finished
            if (
                expected_step is None
                and at - snap.step_started_at < self.ctx.advance_guard
                and snap.step_index > 0
            ):
                raise Conflict(
                    Message(
                        Code(flag_key),
                        f" moved to step {snap.step_index + 1} ({snap.percentage}%) "
                        f"{int((at - snap.step_started_at).total_seconds())} s ago.",
                    ),
                    "If you mean to go one step further, run the command again in "
                    f"{int(self.ctx.advance_guard.total_seconds())} s or press the card's button.",
                )
            return after

        return self._change(flag_key, actor, "rollout.advanced", transform, now, expected_step)

    def pause(self, flag_key: str, actor: Actor, expected_step: int | None = None) -> Outcome:
        """Hold the rollout where it is."""
        self.ctx.permissions.require(actor, "pause", "Pausing a rollout")
        return self._change(
            flag_key,
            actor,
            "rollout.paused",
            lambda _p, s, at: machine.pause(s, at, flag_key),
            self.ctx.clock.now(),
            expected_step,
        )

    def resume(self, flag_key: str, actor: Actor, expected_step: int | None = None) -> Outcome:
        """Continue a paused rollout."""
        self.ctx.permissions.require(actor, "resume", "Resuming a rollout")
        return self._change(
            flag_key,
            actor,
            "rollout.resumed",
            lambda _p, s, at: machine.resume(s, at, flag_key),
            self.ctx.clock.now(),
            expected_step,
        )

    def set_percentage(
        self, flag_key: str, percentage: int, actor: Actor, force: bool = False
    ) -> Outcome:
        """Set the percentage by hand; lowering it needs `force`."""
        self.ctx.permissions.require(actor, "set", "Setting a rollout's percentage")
        return self._change(
            flag_key,
            actor,
            "rollout.percentage_set",
            lambda _p, s, _at: machine.set_percentage(s, percentage, force, flag_key),
            self.ctx.clock.now(),
            None,
        )

    def advance_due(self) -> list[Outcome]:
        """Advance every rollout whose bake time has passed; each step once, even with
        several replicas running this at the same moment.

        Due rollouts are claimed in one statement and advanced together in one transaction,
        their flags changed together (with the built-in flag store) and their threads told
        together, so a tick costs the same few statements whether 10 or 1,000 are due. A
        remote flag provider changes flags one call at a time, so then, as after a batch
        that failed, each rollout is advanced in a transaction of its own."""
        now = self.ctx.clock.now()
        done: list[Outcome] = []
        after: tuple[datetime, int] | None = None
        while True:
            outcomes, after = self._advance_due_batch(now, after)
            done.extend(self.announcer.announce_many(outcomes))
            if after is None:
                return done

    def _advance_due_batch(
        self, now: datetime, after: tuple[datetime, int] | None
    ) -> tuple[list[Outcome], tuple[datetime, int] | None]:
        """One batch of due rollouts (those after `after`): the outcomes committed, and
        where the next batch starts (None when this was the last, or when they were taken
        one by one: then every due rollout was)."""
        if isinstance(self.ctx.flags, BatchFlagProvider):
            try:
                with self.ctx.db.session() as s:
                    # One row more than a batch says whether another batch follows, without
                    # an empty claim after a batch that took exactly the rest.
                    rows = rollouts.claim_due(s, now, self.ctx.db.is_postgres, DUE_BATCH + 1, after)
                    more, rows = len(rows) > DUE_BATCH, rows[:DUE_BATCH]
                    # Where the next batch starts, read before advancing changes due times.
                    last = rows[-1] if more else None
                    cursor = (
                        (last.step_due_at, last.id)
                        if last is not None and last.step_due_at and last.id is not None
                        else None
                    )
                    return self._advance_claimed(s, rows, now), cursor
            except (RollbotError, IntegrityError) as exc:
                # One refusal must not hold back the others: take them one at a time.
                log.warning("batched scheduled advance failed (%s); advancing one by one", exc)
        with self.ctx.db.read() as s:
            ids = rollouts.due_ids(s, now)
        outcomes: list[Outcome] = []
        for rollout_id in ids:
            try:
                outcome = self._advance_due_one(rollout_id, now)
            except RollbotError as exc:
                log.warning("scheduled advance of rollout %s refused: %s", rollout_id, exc)
                continue
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes, None

    def _advance_claimed(self, s: Session, rows: list[RolloutRow], now: datetime) -> list[Outcome]:
        """Advance the locked due rows in `s`: holds checked, flags changed in one go."""
        if not rows:
            return []
        for preload in self.ctx.preloads:
            preload(s, rows)
        moves: list[tuple[RolloutRow, Plan, RolloutSnapshot, RolloutSnapshot]] = []
        for row in rows:
            plan, before = plan_of(row), snapshot_of(row)
            if not machine.is_due(plan, before, now):
                continue  # already advanced (by a person or another replica)
            if self.held(HoldQuery(s, row, plan, before, now, automatic=True)) is not None:
                continue  # waits; the hold's owner shows why on the card
            moves.append((row, plan, before, machine.advance(plan, before, now)))
        changes = [
            (row.flag_key, FlagChange.model_validate(machine.flag_fields(after, plan)))
            for row, plan, before, after in moves
            if _flag_moves(plan, before, after)
        ]
        if changes:
            assert isinstance(self.ctx.flags, BatchFlagProvider)
            s.flush()
            self.ctx.flags.apply_many(changes, SCHEDULER, Transaction(s))
        for row, _plan, _before, after in moves:
            rollouts.apply_snapshot(row, after, now)
            s.add(row)
        audit.record_many(
            s,
            [
                audit.Event(
                    actor=SCHEDULER,
                    at=now,
                    action="rollout.advanced",
                    subject_type="rollout",
                    subject_id=row.flag_key,
                    before=snapshot_dict(before),
                    after=snapshot_dict(after),
                )
                for row, _plan, before, after in moves
            ],
        )
        s.flush()
        return [
            Outcome(
                self.reader.view_of(s, row, now),
                rollout_changed("rollout.advanced", plan, before, after, SCHEDULER),
            )
            for row, plan, before, after in moves
        ]

    def _advance_due_one(self, rollout_id: int, now: datetime) -> Outcome | None:
        with self.ctx.db.session() as s:
            row = rollouts.claim(s, rollout_id, skip_locked=self.ctx.db.is_postgres)
            if row is None:
                return None  # another replica holds it right now
            plan, before = plan_of(row), snapshot_of(row)
            if not machine.is_due(plan, before, now):
                return None  # already advanced (by a person or another replica)
            if self.held(HoldQuery(s, row, plan, before, now, automatic=True)) is not None:
                return None  # waits; the hold's owner shows why on the card
            after = machine.advance(plan, before, now)
            return self._commit(s, row, plan, before, after, SCHEDULER, "rollout.advanced", now)

    def _change(
        self,
        flag_key: str,
        actor: Actor,
        action: str,
        transform: Transform,
        now: datetime,
        expected_step: int | None,
    ) -> Outcome:
        with self.ctx.db.session() as s:
            row = rollouts.active_for_flag(s, flag_key, for_update=True)
            if row is None:
                latest = rollouts.latest_for_flag(s, flag_key)
                if latest is not None:
                    raise InvalidTransition(
                        Message(
                            "The rollout of ",
                            Code(flag_key),
                            f" is {latest.state.replace('_', ' ')}; there is nothing to change.",
                        ),
                        Message("Start a new one with ", Code(f"/rollout start {flag_key}"), "."),
                    )
                raise no_rollout(flag_key, self.reader.known_hint(s))
            if expected_step is not None and row.step_index != expected_step:
                raise Conflict(
                    Message(
                        "That button is out of date: ",
                        Code(flag_key),
                        f" has moved on to step {row.step_index + 1} ({row.percentage}%) since.",
                    ),
                    "Nothing was changed; look at the card's current state.",
                )
            plan, before = plan_of(row), snapshot_of(row)
            after = transform(plan, before, now)
            if action == "rollout.advanced":
                reason = self.held(HoldQuery(s, row, plan, before, now, automatic=False))
                if reason is not None:
                    raise InvalidTransition(
                        Message(
                            Code(flag_key),
                            f" cannot leave step {before.step_index + 1} yet: ",
                            reason,
                        ),
                        Message("See ", Code(f"/rollout status {flag_key}"), "."),
                    )
            planned = plan.step(before.step_index).step.percentage
            if action == "rollout.percentage_set" and after.percentage > max(
                planned, before.percentage
            ):
                # Going past the step's percentage by hand is leaving it: same holds apply.
                reason = self.held(HoldQuery(s, row, plan, before, now, automatic=False))
                if reason is not None:
                    raise InvalidTransition(
                        Message(
                            Code(flag_key),
                            f" cannot go above {max(planned, before.percentage)}% yet: ",
                            reason,
                        ),
                        Message("See ", Code(f"/rollout status {flag_key}"), "."),
                    )
            outcome = self._commit(s, row, plan, before, after, actor, action, now)
        return self.announcer.announce(outcome)

    def held(self, query: HoldQuery) -> Message | None:
        """The first reason any registered hold gives for keeping the current step."""
        for hold in self.ctx.holds:
            reason = hold.hold(query)
            if reason is not None:
                return reason
        return None

    def _commit(
        self,
        s: Session,
        row: RolloutRow,
        plan: Plan,
        before: RolloutSnapshot,
        after: RolloutSnapshot,
        actor: Actor,
        action: str,
        now: datetime,
    ) -> Outcome:
        rollouts.apply_snapshot(row, after, now)
        s.add(row)
        if _flag_moves(plan, before, after):
            self._set_flag(s, row.flag_key, after, actor, plan=plan)
        audit.record(
            s,
            actor=actor,
            at=now,
            action=action,
            subject_type="rollout",
            subject_id=row.flag_key,
            before=snapshot_dict(before),
            after=snapshot_dict(after),
        )
        s.flush()
        event = rollout_changed(action, plan, before, after, actor)
        return Outcome(self.reader.view_of(s, row, now), event)

    def change_locked(
        self,
        s: Session,
        row: RolloutRow,
        action: str,
        transform: Transform,
        actor: Actor,
        now: datetime,
    ) -> Outcome:
        """Apply a change to a rollout row the caller has locked in `s`, in the caller's
        transaction (for services that change a rollout together with their own rows).
        Pass the outcome to `announce` after the commit."""
        plan, before = plan_of(row), snapshot_of(row)
        after = transform(plan, before, now)
        return self._commit(s, row, plan, before, after, actor, action, now)

    def _set_flag(
        self,
        s: Session,
        key: str,
        snap: RolloutSnapshot,
        actor: Actor,
        initial: bool = False,
        plan: Plan | None = None,
    ) -> None:
        fields = machine.flag_fields(snap, plan)
        if initial:
            fields = {**fields, "monitoring_enabled": True}
        # Write pending rows first: a database error (e.g. a rollout started at the same
        # moment) then surfaces as itself, before a remote flag system has been changed.
        s.flush()
        try:
            change = FlagChange.model_validate(fields)
            self.ctx.flags.apply(key, change, actor, within=Transaction(s))
        except RollbotError:
            raise
        except Exception as exc:
            raise RollbotError(
                f"The flag provider ({self.ctx.flags.name}) refused the change: {exc}",
                "Nothing was changed; try again, or check the provider.",
            ) from exc

    def _choose_plan(self, flag_key: str, plan_name: str | None) -> Plan:
        if plan_name:
            return self.ctx.plans.get(plan_name)
        plan = self.ctx.plans.for_flag(flag_key)
        if plan is not None:
            return plan
        if self.ctx.default_plan:
            return self.ctx.plans.get(self.ctx.default_plan)
        known = ", ".join(sorted(self.ctx.plans.plans)) or "none"
        raise NotFound(
            Message("No plan is written for ", Code(flag_key), " and no default plan is set."),
            Message("Name one: ", Code(f"/rollout start {flag_key} <plan>"), f" (plans: {known})."),
        )


def _flag_moves(plan: Plan, before: RolloutSnapshot, after: RolloutSnapshot) -> bool:
    """Whether the flag must change: a new percentage or state, or a new step of a plan that
    gives segments percentages (the staff step changes only theirs)."""
    moved = after.step_index != before.step_index and bool(plan.segment_names())
    return after.percentage != before.percentage or after.state != before.state or moved
