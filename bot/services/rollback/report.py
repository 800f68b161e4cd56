"""What a rollback tells people and listeners: reports, previews and thread messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.durations import format_duration
from bot.domain.rollback import FiredTrigger
from bot.domain.runbook import RunbookStep, describe_step
from bot.providers.runbook.base import StepResult


@dataclass(frozen=True)
class RollbackReport:
    """A rollback as listeners see it, once when it starts and once when it finishes.

    Listeners (`RollbackService.listeners`) get this; an incident feature can open an incident
    from the start report and add the outcome to its timeline from the finish report.
    """

    rollback_id: int
    rollout_id: int
    flag_key: str
    automatic: bool
    actor_id: str
    reason: str
    started_at: datetime
    triggers: list[FiredTrigger] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    finished: bool = False
    failed: bool = False
    failed_step: str | None = None
    finished_at: datetime | None = None
    channel_id: str | None = None
    message_ts: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy (for logs, webhooks, other features' tables)."""
        return {
            "rollback_id": self.rollback_id,
            "rollout_id": self.rollout_id,
            "flag_key": self.flag_key,
            "automatic": self.automatic,
            "actor": self.actor_id,
            "reason": self.reason,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "triggers": [t.as_dict() for t in self.triggers],
            "steps": [s.as_dict() for s in self.steps],
            "finished": self.finished,
            "failed": self.failed,
            "failed_step": self.failed_step,
        }


@dataclass(frozen=True)
class RollbackPreview:
    """What `/rollback <flag>` would do, for the confirmation modal."""

    flag_key: str
    rollout_id: int
    state: str
    percentage: int
    steps: list[str]
    retry_of_failed: bool = False


def preview_lines(steps: list[RunbookStep]) -> list[str]:
    """One numbered line per runbook step."""
    return [f"{i}. {describe_step(step)}" for i, step in enumerate(steps, start=1)]


def started_text(
    flag_key: str,
    automatic: bool,
    actor_mention: str,
    reason: str,
    triggers: list[FiredTrigger],
    at: datetime,
    steps: list[RunbookStep],
) -> str:
    """The first thread message of a rollback: why, and what will run."""
    when = f"{at:%Y-%m-%d %H:%M:%S} UTC"
    if automatic:
        why = "; ".join(t.sentence() for t in triggers)
        head = f":rotating_light: *Automatic rollback of `{flag_key}`* at {when}: {why}."
    else:
        head = f":rewind: *Rollback of `{flag_key}`* started by {actor_mention} at {when}: {reason}"
    plan = "\n".join(preview_lines(steps))
    return f"{head}\nThe flag is turned off first, then the runbook runs:\n{plan}"


def resumed_text(index: int, total: int) -> str:
    """A rollback interrupted by a process death is picked up again by the scheduler."""
    return (
        f":repeat: Rollback resumed after a restart: re-running step {index + 1}/{total} "
        "(it may have been in flight when rollbot stopped) and the steps after it."
    )


def step_started_text(index: int, total: int, step: RunbookStep) -> str:
    """A step begins."""
    return f":arrow_forward: Step {index + 1}/{total} started: {describe_step(step)}"


def step_result_text(index: int, total: int, result: StepResult) -> str:
    """A step ended: result, attempts, duration and the tail of its output."""
    took = f"{result.duration_s:.1f} s"
    tries = f", {result.attempts} attempts" if result.attempts > 1 else ""
    if result.ok:
        head = f":white_check_mark: Step {index + 1}/{total} *{result.name}* done in {took}{tries}."
    elif result.continued:
        head = (
            f":warning: Step {index + 1}/{total} *{result.name}* failed after {took}{tries}: "
            f"{result.error} (continue_on_error: going on)."
        )
    else:
        head = (
            f":x: Step {index + 1}/{total} *{result.name}* failed after {took}{tries}: "
            f"{result.error}"
        )
    if result.output:
        return f"{head}\n```{result.output}```"
    return head


def finished_text(
    report: RollbackReport, total: int, loud_mentions: list[str], took_s: float
) -> str:
    """The last thread message: done, or failed loudly with who must act."""
    took = format_duration_s(took_s)
    if not report.failed:
        return (
            f":white_check_mark: *Rollback of `{report.flag_key}` complete* in {took}: "
            f"{len(report.steps)}/{total} steps done. The rollout is rolled back."
        )
    done = sum(1 for s in report.steps if s.ok)
    skipped = total - len(report.steps)
    who = " ".join(dict.fromkeys(loud_mentions))
    return (
        f":rotating_light: *ROLLBACK OF `{report.flag_key}` FAILED* at step "
        f"*{report.failed_step}*. {done} of {total} steps done, {skipped} not run: the rollback "
        f"is only half done and needs a person now. {who} please take over "
        f"(`/rollback {report.flag_key}` runs the runbook again)."
    )


def format_duration_s(seconds: float) -> str:
    """Seconds for people: `0.4 s` below a minute, else `2m 5s`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    from datetime import timedelta

    return format_duration(timedelta(seconds=int(seconds)))
