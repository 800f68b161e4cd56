"""What happens during a rollback, as events for the rollout's thread (bot/wording/rollback.py
words them): it started, each step started and ended, it finished or failed, it waits for a
person, a person decided; and the plan's data backup before the first users. And what the
rollout's card says when metrics or a rollback explain its waiting line better than its plan
(`MetricsUnreachableWait`, `RollbackWait`, `CriterionHolds`), with the relative criteria
against their baselines (`BaselineNote`).

Events carry facts only; `StepShown` is a runbook step as far as the thread and the
confirmation show it (its name and what it does), without its secrets' sources or bodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain import runbook
from bot.domain.actor import Actor
from bot.domain.message import Message
from bot.domain.roles import Role
from bot.domain.rollback import FiredTrigger
from bot.providers.runbook.base import StepResult
from bot.services.events import Event, reads_older


@dataclass(frozen=True)
class StepShown:
    """A runbook step as people are shown it: its name, kind, and what says what it does."""

    name: str
    kind: str
    # flag: the flag it sets (None: the rollout's own) and the fields it sets.
    flag: str | None = None
    sets: dict[str, Any] = field(default_factory=dict)
    # sql: the database, how many statements, the guard query.
    database: str = ""
    statements: int = 0
    skip_if: str | None = None
    # command: what it runs.
    run: str = ""
    # http: method, url, the statuses it expects.
    method: str = ""
    url: str | None = None
    expect_status: tuple[int, ...] = ()
    # wait_for_health: a url (above) or a metric query, its comparison and threshold; timeout.
    query: str | None = None
    comparison: str | None = None
    threshold: float | None = None
    timeout: str = ""


def step_shown(step: runbook.RunbookStep) -> StepShown:
    """What a runbook step shows of itself."""
    if isinstance(step, runbook.FlagStep):
        return StepShown(step.name, step.kind, flag=step.flag, sets=dict(step.set))
    if isinstance(step, runbook.SqlStep):
        return StepShown(
            step.name,
            step.kind,
            database=step.database,
            statements=len(step.statements),
            skip_if=step.skip_if,
        )
    if isinstance(step, runbook.CommandStep):
        return StepShown(step.name, step.kind, run=step.run)
    if isinstance(step, runbook.HttpStep):
        return StepShown(
            step.name,
            step.kind,
            method=step.method,
            url=step.url,
            expect_status=tuple(step.expect_status),
        )
    assert isinstance(step, runbook.WaitForHealthStep)
    return StepShown(
        step.name,
        step.kind,
        url=step.url,
        query=step.query,
        comparison=step.comparison,
        threshold=step.threshold,
        timeout=step.timeout,
    )


def steps_shown(steps: list[runbook.RunbookStep]) -> tuple[StepShown, ...]:
    """What a runbook's steps show, in order."""
    return tuple(step_shown(s) for s in steps)


class RollbackStarted(Event, kind="rollback.started"):
    """A rollback (or a partial runbook) began: why, and the steps that will run."""

    flag_key: str
    automatic: bool
    actor: Actor
    reason: str
    at: datetime
    steps: tuple[StepShown, ...]
    triggers: tuple[FiredTrigger, ...] = ()
    runbook: str = "full"
    partial: bool = False
    # The rollout's percentage when it started (a partial runbook leaves it there).
    percentage: int | None = None


class RollbackResumed(Event, kind="rollback.resumed"):
    """A rollback interrupted by a process death was picked up again at step `index`."""

    index: int
    total: int


class RollbackStepStarted(Event, kind="rollback.step_started"):
    """Step `index` (from 0) of `total` began."""

    index: int
    total: int
    step: StepShown


class RollbackStepFinished(Event, kind="rollback.step_finished"):
    """Step `index` (from 0) of `total` ended: how, after how long, and its output's tail."""

    index: int
    total: int
    result: StepResult


@reads_older(RollbackStepFinished.kind)
def _flat_step_result(data: dict[str, Any]) -> dict[str, Any]:
    """Before the event carried the `StepResult`, it copied its fields (and not its kind)."""
    if "result" in data:
        return data
    fields = {k: v for k, v in data.items() if k not in ("index", "total")}
    return {
        "index": data.get("index"),
        "total": data.get("total"),
        "result": {"kind": "", **fields},
    }


class RollbackFinished(Event, kind="rollback.finished"):
    """A rollback ended: done, or failed with who must take over."""

    flag_key: str
    total: int
    # Steps with a result (run or skipped), and those of them that succeeded.
    ran: int
    succeeded: int
    took_s: float
    failed: bool = False
    failed_step: str | None = None
    runbook: str = "full"
    partial: bool = False
    # Who must hear about a failure: people by user id (owner, who ran it), then the roles
    # to notify.
    people: tuple[str, ...] = ()
    roles: tuple[Role, ...] = ()


class RollbackWaiting(Event, kind="rollback.waiting"):
    """A resumed rollback stopped at a step not safe to run twice: a person decides."""

    index: int
    total: int
    step: str


class RollbackDecided(Event, kind="rollback.decided"):
    """A person chose for the step a rollback waited at: `rerun`, `skip` or `abort`."""

    choice: str
    actor: Actor
    step: str


class LeftoversStopped(Event, kind="rollback.leftovers_stopped"):
    """Processes an interrupted run left running were stopped before it went on."""

    count: int


class BackupTaken(Event, kind="rollback.backup_taken"):
    """The plan's data backup ran (or was skipped, already done) before the first users."""

    name: str
    output: str = ""


class BackupNotTaken(Event, kind="rollback.backup_not_taken"):
    """The plan's data backup could not run: its database has no URL here."""

    name: str
    database: str


# -- the rollout's card ------------------------------------------------------------------


class MetricsUnreachableWait(Event, kind="rollback.metrics_unreachable"):
    """Every query of the latest evaluation failed: automatic steps wait (the card's
    waiting line, in place of a countdown to an advance that cannot happen)."""

    error: str  # the latest query's error


class RollbackWait(Event, kind="rollback.wait"):
    """The card's waiting line of a rolled-back rollout: where its latest rollback is."""

    # The rollback row's state: running, waiting (for a person), failed, or succeeded.
    state: str
    automatic: bool
    actor: str  # who ran it by hand (a user id)
    reason: str  # the rollback's reason (a person's words, or the trigger's)
    steps_done: int = 0
    failed_step: str | None = None  # where it failed or waits


class CriterionHolds(Event, kind="rollback.criterion_holds"):
    """A due step that may not advance by itself yet (the card's waiting line): the
    reason is `CriteriaHold`'s refusal text."""

    reason: Message


@dataclass(frozen=True)
class BaselineReading:
    """A relative criterion of the step: its baseline before the start, its value now (None:
    not measured) and the change it needs."""

    criterion: str
    baseline: float | None
    now: float | None
    unit: str = ""
    needs: str = ""  # the change, e.g. +20%
    why: str | None = None  # why there is no baseline (its measurement failed)


class BaselineNote(Event, kind="rollback.baseline_note"):
    """The card's note on the step's relative criteria and success metrics."""

    readings: tuple[BaselineReading, ...]
