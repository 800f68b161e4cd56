"""Post-migration follow-through: the tasks a plan gives due dates (`due:` on checklist
items, counted from full production — the rollout completing at 100%), their owners
reminded before the due date and told once it has passed, and the overdue ones listed on the
rollout's card and in `/rollout status`.

Each reminder is sent once across replicas: the item's result row is locked (skipped when
another replica holds it) and its `reminders_sent` moved on before anyone is told.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.domain.checklist import FOLLOW_UP_HORIZON, ItemStatus, Task, open_tasks
from bot.domain.durations import parse_duration
from bot.services.events import Said
from bot.services.rollouts.views import RolloutView, plan_of
from bot.services.signoff.context import SignoffContext
from bot.services.signoff.events import (
    TaskDue,
    TaskReminder,
    TasksDue,
    TasksOpen,
)
from bot.store import rollouts, signoffs
from bot.store.models import RolloutRow

log = logging.getLogger(__name__)

BEFORE_DUE, OVERDUE = 1, 2
# Up to this many overdue (or due soon) tasks are listed on the card; more are counted.
LISTED_TASKS = 5


class FollowThrough:
    """Post-migration tasks: reminders and the overdue list."""

    def __init__(self, context: SignoffContext) -> None:
        self.context = context

    @property
    def remind_before(self) -> timedelta:
        """How long before a due date its owner hears about it."""
        return parse_duration(self.context.config.task_reminder_before)

    def annotate(
        self, s: Session, row: RolloutRow, view: RolloutView, now: datetime
    ) -> RolloutView:
        """A completed rollout's card and status list its overdue tasks and those due soon."""
        if row.state != "completed" or row.finished_at is None:
            return view
        tasks = open_tasks(self.context.checklists.states(s, row), row.finished_at)
        overdue = [t for t in tasks if t.overdue(now)]
        soon = [t for t in tasks if not t.overdue(now) and t.due_at - now <= self.remind_before]
        notes: list[Said] = []
        if overdue:
            listed = tuple(self._due(t, now) for t in overdue[:LISTED_TASKS])
            notes.append(TasksDue(True, listed, len(overdue) - len(listed)))
        if soon:
            notes.append(TasksDue(False, tuple(self._due(t, now) for t in soon[:LISTED_TASKS])))
        if tasks and not overdue and not soon:
            first = tasks[0]
            notes.append(TasksOpen(len(tasks), first.state.item.text, first.due_at - now))
        return replace(view, notes=(*view.notes, *notes)) if notes else view

    def _due(self, task: Task, now: datetime) -> TaskDue:
        owner = self.context.role_name(task.state.item.owner)
        by = now - task.due_at if task.overdue(now) else task.due_at - now
        return TaskDue(task.state.item.text, owner, by)

    def remind_due(self) -> int:
        """Remind owners of tasks due soon and tell them of tasks overdue, each once; return
        how many reminders were sent."""
        now = self.context.clock.now()
        with self.context.db.session() as s:
            finished = rollouts.completed_since(s, now - FOLLOW_UP_HORIZON)
            due: list[tuple[int, str, int, int]] = []  # rollout, checklist, index, stage
            for row in finished:
                assert row.id is not None and row.finished_at is not None
                for task in open_tasks(self.context.checklists.states(s, row), row.finished_at):
                    stage = self._stage(task, now)
                    if stage:
                        due.append((row.id, task.state.checklist.id, task.state.index, stage))
        sent = 0
        for rollout_id, checklist_id, index, stage in due:
            before = self._claim(rollout_id, checklist_id, index, stage)
            if before is None:
                continue
            if self._remind(rollout_id, checklist_id, index, stage, now):
                sent += 1
            else:
                # Nobody could be told: give the reminder back, the next tick tries again.
                self._claim(rollout_id, checklist_id, index, before, back=True)
        return sent

    def _stage(self, task: Task, now: datetime) -> int:
        if task.overdue(now):
            return OVERDUE
        if task.due_at - now <= self.remind_before:
            return BEFORE_DUE
        return 0

    def _claim(
        self, rollout_id: int, checklist_id: str, index: int, stage: int, back: bool = False
    ) -> int | None:
        """Move the item's reminder count to `stage` under its row lock and return what it
        was; None when it was already there (another replica or an earlier tick sent it).
        `back` sets it to `stage` whatever it is (a reminder that could not be sent)."""
        key = signoffs.item_key(rollout_id, checklist_id, index)
        with self.context.db.session() as s:
            result = signoffs.result(s, key, for_update=True)
            if result is None:
                result = signoffs.add_result(
                    s,
                    key=key,
                    rollout_id=rollout_id,
                    checklist_id=checklist_id,
                    item_index=index,
                    status=ItemStatus.OPEN.value,
                )
                s.flush()
                result = signoffs.result(s, key, for_update=True)
                assert result is not None
            before = result.reminders_sent
            if not back and (before >= stage or result.status == ItemStatus.DONE.value):
                return None
            result.reminders_sent = stage
            signoffs.save(s, result)
            return before

    def _remind(
        self, rollout_id: int, checklist_id: str, index: int, stage: int, now: datetime
    ) -> bool:
        """Tell the task's owners (else the rollout's channel); True when someone heard."""
        view = self.context.rollouts.view(rollout_id)
        with self.context.db.session() as s:
            row = rollouts.by_id(s, rollout_id)
            assert row is not None and row.finished_at is not None
            checklist = next(c for c in plan_of(row).checklists if c.id == checklist_id)
            item = checklist.items[index]
            due = item.due_at(row.finished_at)
        assert due is not None
        role = self.context.directory.role(item.owner)
        overdue = stage == OVERDUE
        text = TaskReminder(
            item.text, checklist.title, view.flag_key, overdue, now - due if overdue else due - now
        )
        people = list(role.members) if role is not None else []
        told = 0
        for user in people:
            try:
                self.context.notifier.tell(user, text)
                told += 1
            except Exception as exc:
                log.warning("could not remind %s of %r: %s", user, item.text, exc)
        if people:
            return told > 0
        # Nobody to tell in person: in the rollout's thread, through its ordered outbox
        # (retried until Slack takes it), so it is not lost.
        self.context.rollouts.post(rollout_id, text)
        return True
