"""Checklist items of a rollout: checked by an owner's button press or by a probe.

An owner's check is recorded like a signature (who, when, audit event) and from then on a
probe no longer changes that item. Probes are re-run by the scheduler: each due item is
claimed with a row lock (and its next run moved on) before the probe runs, so two replicas
never run the same probe at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.clock import Clock
from bot.domain.actor import SCHEDULER, Actor
from bot.domain.checklist import FOLLOW_UP_HORIZON, ItemState, ItemStatus, Probe
from bot.domain.errors import Conflict, NotFound
from bot.domain.message import Code, Message
from bot.domain.plan import Plan
from bot.domain.roles import Forbidden, RoleDirectory
from bot.domain.rollout import RolloutState
from bot.providers.probes import FlagExists, MetricQuery, run_probe
from bot.services.events import Said
from bot.services.permissions import Permissions
from bot.services.rollouts.reading import Outcome, current_row
from bot.services.rollouts.service import RolloutService
from bot.services.rollouts.views import RolloutView, plan_of
from bot.services.signoff.events import (
    AlreadyCheckedReply,
    CheckedReply,
    ItemChecked,
    ProbeChanged,
)
from bot.services.signoff.ports import CheckButton
from bot.store import audit, rollouts, signoffs
from bot.store.database import Database
from bot.store.models import RolloutRow
from bot.store.signoff_models import ChecklistResultRow

log = logging.getLogger(__name__)

ACTIVE = (RolloutState.RUNNING.value, RolloutState.PAUSED.value)


@dataclass(frozen=True)
class CheckResult:
    """What a Check press did."""

    text: Said
    changed: bool


def _role_name(directory: RoleDirectory, role_id: str) -> str:
    role = directory.role(role_id)
    return role.name if role else role_id


def item_states(plan: Plan, found: Mapping[tuple[str, int], ChecklistResultRow]) -> list[ItemState]:
    """Every checklist item of the plan with its stored result (by checklist id and item
    index), in plan order."""
    out: list[ItemState] = []
    for checklist in plan.checklists:
        for index, item in enumerate(checklist.items):
            r = found.get((checklist.id, index))
            status = ItemStatus(r.status) if r is not None else ItemStatus.OPEN
            out.append(
                ItemState(
                    checklist,
                    index,
                    item,
                    status,
                    r.checked_by if r else None,
                    r.at if r else None,
                    r.detail if r else None,
                )
            )
    return out


class ChecklistService:
    """Checklist state, owner checks and probes."""

    def __init__(
        self,
        db: Database,
        rollout_service: RolloutService,
        permissions: Permissions,
        clock: Clock,
        metrics: MetricQuery | None = None,
        flag_exists: FlagExists | None = None,
    ) -> None:
        self.db = db
        self.rollouts = rollout_service
        self.permissions = permissions
        self.clock = clock
        self.metrics = metrics
        self.flag_exists = flag_exists

    def states(self, s: Session, row: RolloutRow, plan: Plan | None = None) -> list[ItemState]:
        """Every item of the rollout's plan with its current result, in plan order."""
        assert row.id is not None
        return item_states(plan or plan_of(row), signoffs.results(s, row.id))

    def items(self, flag_key: str) -> tuple[RolloutView, list[ItemState]]:
        """The rollout (active, else latest) of a flag and its checklist items."""
        with self.db.read() as s:
            row = current_row(s, flag_key)
            return self.rollouts.view_of(s, row, self.clock.now()), self.states(s, row)

    def check(self, button: CheckButton, actor: Actor) -> CheckResult:
        """An owner checks an item by hand; a repeat changes nothing."""
        now = self.clock.now()
        with self.db.session() as s:
            row = rollouts.by_id(s, button.rollout, for_update=True)
            if row is None:
                raise NotFound("That checklist item names a rollout that does not exist.")
            plan = plan_of(row)
            checklist = next((c for c in plan.checklists if c.id == button.checklist), None)
            if checklist is None or not 0 <= button.index < len(checklist.items):
                raise NotFound("That checklist item is not in the rollout's plan.")
            if row.state == RolloutState.ROLLED_BACK.value:
                raise Conflict(
                    Message(
                        "That button is out of date: the rollout of ",
                        Code(row.flag_key),
                        " was rolled back.",
                    ),
                    "Nothing was changed.",
                )
            item = checklist.items[button.index]
            if item.probe is not None and item.probe.flag_removed:
                raise Conflict(
                    f"“{item.text}” is checked by rollbot itself, once the flag is gone.",
                    Message(
                        "Remove ",
                        Code(row.flag_key),
                        " from the flag system (the built-in store: ",
                        Code(f"DELETE /flags/{row.flag_key}"),
                        f"); the probe looks every {item.probe.every}.",
                    ),
                )
            directory = self.permissions.directory
            role = directory.role(item.owner)
            groups = self.permissions.group_members()
            members = groups.get(role.usergroup, []) if role and role.usergroup else []
            if role is None or not (role.has(actor.id, members) or actor.id in role.backups):
                who = role.who() if role else Message("nobody (the role is not in the config)")
                raise Forbidden(
                    f"Only someone holding the role {_role_name(directory, item.owner)} can "
                    f"check “{item.text}”.",
                    Message("Who can: ", who, "."),
                )
            assert row.id is not None
            key = signoffs.item_key(row.id, checklist.id, button.index)
            result = signoffs.result(s, key, for_update=True)
            if result is not None and result.manual and result.status == ItemStatus.DONE.value:
                already = AlreadyCheckedReply(item.text, result.checked_by or "?")
                return CheckResult(already, False)
            if result is None:
                result = signoffs.add_result(
                    s,
                    key=key,
                    rollout_id=row.id,
                    checklist_id=checklist.id,
                    item_index=button.index,
                    status=ItemStatus.OPEN.value,
                )
            before = result.status
            result.status = ItemStatus.DONE.value
            result.checked_by, result.via, result.at = actor.id, actor.via.value, now
            result.manual, result.next_probe_at = True, None
            signoffs.save(s, result)
            audit.record(
                s,
                actor=actor,
                at=now,
                action="checklist.checked",
                subject_type="rollout",
                subject_id=row.flag_key,
                before={"status": before},
                after={"checklist": checklist.id, "item": button.index, "status": "done"},
                detail=item.text,
            )
            rollout_id, flag = row.id, row.flag_key
        event = ItemChecked(actor, item.text, checklist.title)
        self.rollouts.announce(Outcome(self.rollouts.view(rollout_id), event))
        return CheckResult(CheckedReply(item.text, flag), True)

    # -- probes --------------------------------------------------------------------------

    def ensure_probe_rows(self, s: Session, row: RolloutRow, now: datetime) -> None:
        """Make sure every probe item of an active rollout (of a completed one: its
        post-migration tasks, the items with a due date) has a result row to claim."""
        assert row.id is not None
        found = signoffs.results(s, row.id)
        for checklist in plan_of(row).checklists:
            for index, item in enumerate(checklist.items):
                if item.probe is None or (checklist.id, index) in found:
                    continue
                if row.state not in ACTIVE and item.due is None:
                    continue
                signoffs.add_result(
                    s,
                    key=signoffs.item_key(row.id, checklist.id, index),
                    rollout_id=row.id,
                    checklist_id=checklist.id,
                    item_index=index,
                    status=ItemStatus.OPEN.value,
                    next_probe_at=now,
                )

    def run_due_probes(self) -> int:
        """Run every probe whose time has come (each once across replicas); return how many."""
        now = self.clock.now()
        with self.db.session() as s:
            followed = rollouts.completed_since(s, now - FOLLOW_UP_HORIZON)
            for row in [*rollouts.active(s), *followed]:
                self.ensure_probe_rows(s, row, now)
        with self.db.session() as s:
            due = signoffs.due_probe_ids(s, now)
        ran = 0
        for result_id in due:
            claimed = self._claim_probe(result_id, now)
            if claimed is None:
                continue
            probe_item, rollout_id, flag_key = claimed
            passed, detail = run_probe(
                probe_item, now, self.metrics, flag_key=flag_key, flag_exists=self.flag_exists
            )
            self._record_probe(result_id, rollout_id, passed, detail, now)
            ran += 1
        return ran

    def _claim_probe(self, result_id: int, now: datetime) -> tuple[Probe, int, str] | None:
        with self.db.session() as s:
            result = signoffs.claim_result(s, result_id, skip_locked=self.db.is_postgres)
            if result is None or result.manual or result.next_probe_at is None:
                return None
            if result.next_probe_at > now:
                return None  # another replica ran it just now
            row = rollouts.by_id(s, result.rollout_id)
            checklist = (
                next((c for c in plan_of(row).checklists if c.id == result.checklist_id), None)
                if row is not None
                else None
            )
            item = checklist.items[result.item_index] if checklist is not None else None
            followed = (
                row is not None
                and item is not None
                and item.due is not None
                and row.state == RolloutState.COMPLETED.value
                and row.finished_at is not None
                and row.finished_at >= now - FOLLOW_UP_HORIZON
            )
            if row is None or item is None or (row.state not in ACTIVE and not followed):
                result.next_probe_at = None  # the rollout is over: stop probing
                signoffs.save(s, result)
                return None
            probe = item.probe
            if probe is None:
                return None
            result.next_probe_at = now + probe.interval
            signoffs.save(s, result)
            return probe, result.rollout_id, row.flag_key

    def _record_probe(
        self, result_id: int, rollout_id: int, passed: bool, detail: str, now: datetime
    ) -> None:
        status = ItemStatus.DONE.value if passed else ItemStatus.FAILING.value
        changed = False
        with self.db.session() as s:
            result = signoffs.result_by_id(s, result_id, for_update=True)
            row = rollouts.by_id(s, rollout_id)
            if result is None or row is None or result.manual:
                return
            changed = result.status != status
            before = result.status
            result.status, result.detail, result.at = status, detail, now
            result.checked_by, result.via = "probe", SCHEDULER.via.value
            signoffs.save(s, result)
            if changed:
                audit.record(
                    s,
                    actor=SCHEDULER,
                    at=now,
                    action="checklist.probed",
                    subject_type="rollout",
                    subject_id=row.flag_key,
                    before={"status": before},
                    after={
                        "checklist": result.checklist_id,
                        "item": result.item_index,
                        "status": status,
                    },
                    detail=detail,
                )
        if changed:
            self.rollouts.announce(
                Outcome(self.rollouts.view(rollout_id), ProbeChanged(passed, detail))
            )
