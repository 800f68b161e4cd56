"""What a rollback tells people and listeners: reports, previews and thread messages.

Thread messages are `Message`s: the chat adapter writes the mentions, emphasis and signs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.durations import format_duration
from bot.domain.message import Code, Message, Part, Preformatted, Sign, Strong
from bot.domain.rollback import FiredTrigger
from bot.domain.runbook import FULL, RunbookStep, describe_step
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
    runbook: str = FULL
    """The plan's runbook that ran; a partial one left the rollout running, paused."""
    partial: bool = False

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
            "runbook": self.runbook,
            "partial": self.partial,
        }


@dataclass(frozen=True)
class RollbackPreview:
    """What `/rollback <flag>` would do, for the confirmation modal."""

    flag_key: str
    rollout_id: int
    state: str
    percentage: int
    steps: list[Message]
    retry_of_failed: bool = False
    runbook: str = FULL
    partial: bool = False
    description: str = ""
    runbooks: list[tuple[str, str]] = field(default_factory=list)
    """Every runbook the plan offers: (name, what it is for), `full` first."""
    other_steps: list[tuple[str, list[Message]]] = field(default_factory=list)
    """The steps of each other runbook, for a menu that shows what each choice runs."""


def preview_lines(steps: list[RunbookStep]) -> list[Message]:
    """One numbered line per runbook step."""
    return [Message(f"{i}. ", describe_step(step)) for i, step in enumerate(steps, start=1)]


def started_text(
    flag_key: str,
    automatic: bool,
    actor: Part,
    reason: str,
    triggers: list[FiredTrigger],
    at: datetime,
    steps: list[RunbookStep],
    runbook: str = FULL,
    partial: bool = False,
    percentage: int | None = None,
) -> Message:
    """The first thread message of a rollback: why, and what will run."""
    when = f"{at:%Y-%m-%d %H:%M:%S} UTC"
    if partial:
        why = (
            Message.join("; ", (t.sentence() for t in triggers))
            if automatic
            else Message("started by ", actor, f": {reason}")
        )
        at_pct = f" at {percentage}%" if percentage is not None else ""
        return Message(
            Sign.ROLLBACK,
            Strong(f"Runbook `{runbook}` for `{flag_key}`"),
            f" at {when}: ",
            why,
            f".\nA partial runbook: `{flag_key}` stays on{at_pct} and its rollout is paused "
            "(not rolled back). These steps run:\n",
            Message.join("\n", preview_lines(steps)),
        )
    if automatic:
        why = Message.join("; ", (t.sentence() for t in triggers))
        head = Message(
            Sign.INCIDENT,
            Strong("Automatic rollback of ", Code(flag_key)),
            f" at {when}: ",
            why,
            ".",
        )
    else:
        head = Message(
            Sign.ROLLBACK,
            Strong("Rollback of ", Code(flag_key)),
            " started by ",
            actor,
            f" at {when}: {reason}",
        )
    plan = Message.join("\n", preview_lines(steps))
    return Message(head, "\nThe flag is turned off first, then the runbook runs:\n", plan)


def resumed_text(index: int, total: int) -> Message:
    """A rollback interrupted by a process death is picked up again by the scheduler."""
    return Message(
        Sign.REPEAT,
        f"Rollback resumed after a restart: re-running step {index + 1}/{total} "
        "(it may have been in flight when rollbot stopped) and the steps after it.",
    )


def step_started_text(index: int, total: int, step: RunbookStep) -> Message:
    """A step begins."""
    return Message(Sign.RESUMED, f"Step {index + 1}/{total} started: ", describe_step(step))


def step_result_text(index: int, total: int, result: StepResult) -> Message:
    """A step ended: result, attempts, duration and the tail of its output."""
    took = f"{result.duration_s:.1f} s"
    tries = f", {result.attempts} attempts" if result.attempts > 1 else ""
    step = Message(f"Step {index + 1}/{total} ", Strong(result.name))
    if result.ok:
        head = Message(Sign.OK, step, f" done in {took}{tries}.")
    elif result.continued:
        head = Message(
            Sign.WARNING,
            step,
            f" failed after {took}{tries}: {result.error} (continue_on_error: going on).",
        )
    else:
        head = Message(Sign.FAILED, step, f" failed after {took}{tries}: {result.error}")
    if result.output:
        return Message(head, "\n", Preformatted(result.output))
    return head


def finished_text(
    report: RollbackReport, total: int, loud: list[Part | Message], took_s: float
) -> Message:
    """The last thread message: done, or failed loudly with who must act."""
    took = format_duration_s(took_s)
    if not report.failed and report.partial:
        return Message(
            Sign.OK,
            Strong(f"Runbook `{report.runbook}` for `{report.flag_key}` complete"),
            f" in {took}: {len(report.steps)}/{total} steps done. The rollout of "
            f"`{report.flag_key}` is still running, paused: resume it with ",
            Code(f"/rollout resume {report.flag_key}"),
            " once it is safe, or roll it back fully with ",
            Code(f"/rollback {report.flag_key}"),
            ".",
        )
    if not report.failed:
        return Message(
            Sign.OK,
            Strong("Rollback of ", Code(report.flag_key), " complete"),
            f" in {took}: {len(report.steps)}/{total} steps done. The rollout is rolled back.",
        )
    done = sum(1 for s in report.steps if s.ok)
    skipped = total - len(report.steps)
    again = f" {report.runbook}" if report.runbook != FULL else ""
    who = Message.join(" ", list(dict.fromkeys(loud)))
    return Message(
        Sign.INCIDENT,
        Strong("ROLLBACK OF ", Code(report.flag_key), " FAILED"),
        " at step ",
        Strong(report.failed_step or ""),
        f". {done} of {total} steps done, {skipped} not run: the rollback "
        "is only half done and needs a person now. ",
        who,
        " please take over (",
        Code(f"/rollback {report.flag_key}{again}"),
        " runs the runbook again).",
    )


def format_duration_s(seconds: float) -> str:
    """Seconds for people: `0.4 s` below a minute, else `2m 5s`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    from datetime import timedelta

    return format_duration(timedelta(seconds=int(seconds)))


def waiting_text(index: int, total: int, step: RunbookStep) -> Message:
    """The step in flight when rollbot stopped is not safe to run twice: a person decides."""
    return Message(
        Sign.WARNING,
        f"Rollback stopped at step {index + 1}/{total} ",
        Strong(step.name),
        ": it was running when rollbot stopped, so it may have done its work or not, and it "
        "is not safe to run twice. Check, then press Re-run, Skip or Abort on the card.",
    )


def decided_text(choice: str, actor: Part, step: str) -> Message:
    """What a person chose for the step a rollback waited at."""
    said = {
        "rerun": "re-runs",
        "skip": "skips",
        "abort": "aborts the rollback at",
    }[choice]
    return Message(Sign.REPEAT, actor, f" {said} step ", Strong(step), ".")


def leftovers_text(count: int) -> Message:
    """Commands the dead run left running were stopped before the rollback went on."""
    return Message(
        Sign.STOPPED,
        f"Stopped {count} process(es) the interrupted run left behind, so no step runs twice "
        "at once.",
    )
