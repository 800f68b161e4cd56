"""The words of a rollback in its rollout's thread (it started, each step, it finished or
failed, it waits for a person) and of the runbook steps a confirmation shows; and the plan's
data backup before the first users."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from bot.domain.durations import format_duration
from bot.domain.message import Code, Message, Part, Preformatted, Sign, Strong, person
from bot.domain.rollback import FiredTrigger
from bot.domain.runbook import FULL
from bot.domain.triggers import compared_text, format_value
from bot.services.events import Event
from bot.services.rollback.events import (
    BackupNotTaken,
    BackupTaken,
    BaselineNote,
    CriterionHolds,
    LeftoversStopped,
    MetricsUnreachableWait,
    RollbackDecided,
    RollbackFinished,
    RollbackResumed,
    RollbackStarted,
    RollbackStepFinished,
    RollbackStepStarted,
    RollbackWait,
    RollbackWaiting,
    StepShown,
)


def step_line(step: StepShown) -> Message:
    """One line saying what a step does (for the confirmation modal, the shell, the thread)."""
    if step.kind == "flag":
        fields = ", ".join(f"{k}={v}" for k, v in step.sets.items())
        if step.flag:
            return Message(f"{step.name}: set the flag ", Code(step.flag), f" ({fields})")
        return Message(f"{step.name}: set the flag ({fields})")
    if step.kind == "sql":
        what = f"{step.statements} SQL statement(s) in one transaction on database "
        guard = Message(", skipped when ", Code(step.skip_if)) if step.skip_if else ""
        return Message(f"{step.name}: {what}", Code(step.database), guard)
    if step.kind == "command":
        return Message(f"{step.name}: run ", Code(step.run))
    if step.kind == "http":
        expects = list(step.expect_status)
        return Message(f"{step.name}: {step.method} {step.url} (expects {expects})")
    target = step.url or Message(Code(str(step.query)), f" {step.comparison} {step.threshold}")
    return Message(f"{step.name}: wait until healthy: ", target, f" (up to {step.timeout})")


def step_lines(steps: Iterable[StepShown]) -> list[Message]:
    """One numbered line per runbook step."""
    return [Message(f"{i}. ", step_line(step)) for i, step in enumerate(steps, start=1)]


def trigger_sentence(t: FiredTrigger) -> Message:
    """Why a trigger fired."""
    measured = ", ".join(format_value(v, t.unit) for v in t.values) or "no data"
    label = f"{t.name} ({t.description})" if t.description else t.name
    return Message(
        "trigger ",
        Strong(label),
        ": ",
        Code(t.query),
        f" {t.comparison} {format_value(t.threshold, t.unit)} for "
        f"{t.consecutive} evaluations in a row (measured {measured})",
    )


def started(e: RollbackStarted) -> Message:
    """The first thread message of a rollback: why, and what will run."""
    when = f"{e.at:%Y-%m-%d %H:%M:%S} UTC"
    actor = e.actor.named
    plan = Message.join("\n", step_lines(e.steps))
    if e.partial:
        why = (
            Message.join("; ", (trigger_sentence(t) for t in e.triggers))
            if e.automatic
            else Message("started by ", actor, f": {e.reason}")
        )
        at_pct = f" at {e.percentage}%" if e.percentage is not None else ""
        return Message(
            Sign.ROLLBACK,
            Strong(f"Runbook `{e.runbook}` for `{e.flag_key}`"),
            f" at {when}: ",
            why,
            f".\nA partial runbook: `{e.flag_key}` stays on{at_pct} and its rollout is paused "
            "(not rolled back). These steps run:\n",
            plan,
        )
    if e.automatic:
        why = Message.join("; ", (trigger_sentence(t) for t in e.triggers))
        head = Message(
            Sign.INCIDENT,
            Strong("Automatic rollback of ", Code(e.flag_key)),
            f" at {when}: ",
            why,
            ".",
        )
    else:
        head = Message(
            Sign.ROLLBACK,
            Strong("Rollback of ", Code(e.flag_key)),
            " started by ",
            actor,
            f" at {when}: {e.reason}",
        )
    return Message(head, "\nThe flag is turned off first, then the runbook runs:\n", plan)


def resumed(e: RollbackResumed) -> Message:
    """A rollback interrupted by a process death is picked up again by the scheduler."""
    return Message(
        Sign.REPEAT,
        f"Rollback resumed after a restart: re-running step {e.index + 1}/{e.total} "
        "(it may have been in flight when rollbot stopped) and the steps after it.",
    )


def step_started(e: RollbackStepStarted) -> Message:
    """A step begins."""
    return Message(Sign.RESUMED, f"Step {e.index + 1}/{e.total} started: ", step_line(e.step))


def step_finished(e: RollbackStepFinished) -> Message:
    """A step ended: result, attempts, duration and the tail of its output."""
    r = e.result
    took = f"{r.duration_s:.1f} s"
    tries = f", {r.attempts} attempts" if r.attempts > 1 else ""
    step = Message(f"Step {e.index + 1}/{e.total} ", Strong(r.name))
    if r.ok:
        head = Message(Sign.OK, step, f" done in {took}{tries}.")
    elif r.continued:
        head = Message(
            Sign.WARNING,
            step,
            f" failed after {took}{tries}: {r.error} (continue_on_error: going on).",
        )
    else:
        head = Message(Sign.FAILED, step, f" failed after {took}{tries}: {r.error}")
    if r.output:
        return Message(head, "\n", Preformatted(r.output))
    return head


def duration_s(seconds: float) -> str:
    """Seconds for people: `0.4 s` below a minute, else `2m 5s`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    return format_duration(timedelta(seconds=int(seconds)))


def finished(e: RollbackFinished) -> Message:
    """The last thread message: done, or failed loudly with who must act."""
    took = duration_s(e.took_s)
    if not e.failed and e.partial:
        return Message(
            Sign.OK,
            Strong(f"Runbook `{e.runbook}` for `{e.flag_key}` complete"),
            f" in {took}: {e.ran}/{e.total} steps done. The rollout of "
            f"`{e.flag_key}` is still running, paused: resume it with ",
            Code(f"/rollout resume {e.flag_key}"),
            " once it is safe, or roll it back fully with ",
            Code(f"/rollback {e.flag_key}"),
            ".",
        )
    if not e.failed:
        return Message(
            Sign.OK,
            Strong("Rollback of ", Code(e.flag_key), " complete"),
            f" in {took}: {e.ran}/{e.total} steps done. The rollout is rolled back.",
        )
    skipped = e.total - e.ran
    again = f" {e.runbook}" if e.runbook != FULL else ""
    loud: list[Part | Message] = [person(p) for p in e.people]
    loud += [Message(role.name, " (", role.who(), ")") for role in e.roles]
    who = Message.join(" ", list(dict.fromkeys(loud)))
    return Message(
        Sign.INCIDENT,
        Strong("ROLLBACK OF ", Code(e.flag_key), " FAILED"),
        " at step ",
        Strong(e.failed_step or ""),
        f". {e.succeeded} of {e.total} steps done, {skipped} not run: the rollback "
        "is only half done and needs a person now. ",
        who,
        " please take over (",
        Code(f"/rollback {e.flag_key}{again}"),
        " runs the runbook again).",
    )


def waiting(e: RollbackWaiting) -> Message:
    """The step in flight when rollbot stopped is not safe to run twice: a person decides."""
    return Message(
        Sign.WARNING,
        f"Rollback stopped at step {e.index + 1}/{e.total} ",
        Strong(e.step),
        ": it was running when rollbot stopped, so it may have done its work or not, and it "
        "is not safe to run twice. Check, then press Re-run, Skip or Abort on the card.",
    )


def decided(e: RollbackDecided) -> Message:
    """What a person chose for the step a rollback waited at."""
    said = {
        "rerun": "re-runs",
        "skip": "skips",
        "abort": "aborts the rollback at",
    }[e.choice]
    return Message(Sign.REPEAT, e.actor.named, f" {said} step ", Strong(e.step), ".")


def leftovers_stopped(e: LeftoversStopped) -> Message:
    """Commands the dead run left running were stopped before the rollback went on."""
    return Message(
        Sign.STOPPED,
        f"Stopped {e.count} process(es) the interrupted run left behind, so no step runs twice "
        "at once.",
    )


def backup_taken(e: BackupTaken) -> Message:
    """The thread's account of a backup that ran (or was skipped, already done): what each
    statement did and the row counts before and after."""
    head = Message(Sign.OK, "Data backup ", Strong(e.name), " before the first users:")
    return Message(head, "\n", Preformatted(e.output)) if e.output else head


def backup_not_taken(e: BackupNotTaken) -> Message:
    """The backup's database has no URL here: said loudly, the rollout goes on."""
    return Message(
        Sign.WARNING,
        "Data backup ",
        Strong(e.name),
        f" was NOT taken: database {e.database!r} has no URL here (the "
        "variable its url_env names is unset). The data-migration rollback has "
        "nothing to restore from.",
    )


# -- the rollout's card ------------------------------------------------------------------


def metrics_unreachable(e: MetricsUnreachableWait) -> Message:
    """The waiting line while no metric query answers."""
    return Message(
        "Metrics unreachable (",
        e.error,
        "): automatic steps wait until they answer; advance by hand if you must.",
    )


def rollback_wait(e: RollbackWait) -> Message:
    """The waiting line of a rolled-back rollout: its latest rollback's state."""
    how = Message("automatically") if e.automatic else Message("by ", person(e.actor))
    if e.state == "running":
        return Message(
            "Rolling back ", how, f": {e.steps_done} step(s) done so far. Reason: ", e.reason
        )
    if e.state == "waiting":
        return Message(
            "Rollback waits for a person at step ",
            Strong(e.failed_step or "?"),
            ": it was running when rollbot stopped and is not safe to run twice. "
            "Re-run it, skip it or abort the rollback.",
        )
    if e.state == "failed":
        return Message(
            f"ROLLBACK FAILED at step {e.failed_step!r} (rolled back ",
            how,
            "): the rollback is half done. Run ",
            Code("/rollback"),
            " again or finish it by hand.",
        )
    return Message("Rolled back ", how, ": ", e.reason)


def criterion_holds(e: CriterionHolds) -> Message:
    """The waiting line of a due step held by its criteria."""
    return Message("Bake time passed; held: ", e.reason, ".")


def baseline_note(e: BaselineNote) -> Message:
    """Each relative criterion against its baseline, on the card."""
    lines = (
        f"{r.criterion}: {compared_text(r.now, r.baseline, r.unit, r.needs, r.why)}"
        for r in e.readings
    )
    return Message("Against the baseline before the start: ", "; ".join(lines), ".")


WORDS: dict[type[Event], Callable[[Any], Message]] = {
    RollbackStarted: started,
    RollbackResumed: resumed,
    RollbackStepStarted: step_started,
    RollbackStepFinished: step_finished,
    RollbackFinished: finished,
    RollbackWaiting: waiting,
    RollbackDecided: decided,
    LeftoversStopped: leftovers_stopped,
    BackupTaken: backup_taken,
    BackupNotTaken: backup_not_taken,
    MetricsUnreachableWait: metrics_unreachable,
    RollbackWait: rollback_wait,
    CriterionHolds: criterion_holds,
    BaselineNote: baseline_note,
}
