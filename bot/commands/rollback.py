"""`/rollback <flag> [runbook] [reason]`: what it would run (the confirmation), and running
it. The runbook is a name the flag's plan offers (`full`, or one of its `runbooks:`); a
second word that is not one is the start of the reason."""

from __future__ import annotations

from bot.commands.reply import Reply, refusal
from bot.domain.actor import Actor
from bot.domain.errors import RollbotError
from bot.domain.flag import FLAG_KEY_HINT, is_valid_flag_key
from bot.domain.message import Code, Message
from bot.domain.runbook import FULL
from bot.services.rollback.report import RollbackPreview, RollbackReport
from bot.services.rollback.service import RollbackService
from bot.wording.rollback import step_lines

USAGE = """*Usage:* `/rollback <flag> [runbook] [reason]`
Rolls the flag's rollout back: turns the flag off first, then runs the plan's rollback
runbook (drain, revert, deploy the previous version, verify health), reporting every step in
the rollout's thread. A plan may offer runbooks for particular risks (e.g. `restart`): name
one after the flag; a partial runbook leaves the rollout running, paused. In Slack a
confirmation shows the steps, offers the runbooks and asks for the reason.
• `/rollback help` — this help"""


def parse(text: str) -> tuple[str, str]:
    """The flag key and the reason (possibly empty) from the command text."""
    flag, _, reason = text.strip().partition(" ")
    if not flag:
        raise RollbotError(
            "`/rollback` needs a flag key.",
            "Example: `/rollback realtime-features error rate is up`.",
        )
    if not is_valid_flag_key(flag):
        raise RollbotError(f"`{flag}` is not a valid flag key.", FLAG_KEY_HINT + ".")
    return flag, " ".join(reason.split())


def split_runbook(rest: str, runbooks: list[str]) -> tuple[str, str]:
    """The runbook named first in `rest` (one of `runbooks`; else the full one) and the
    reason after it."""
    first, _, after = rest.partition(" ")
    if first in runbooks:
        return first, " ".join(after.split())
    return FULL, rest


def is_help(text: str) -> bool:
    """True when the text asks for help."""
    words = text.split()
    return not words or words[0].lower() in ("help", "-h", "--help")


def confirmation_text(preview: RollbackPreview) -> Message:
    """What the confirmation shows: the rollout and the steps that will run."""
    retry = (
        "\n:warning: A previous rollback of this flag failed half-way; this runs the runbook again."
        if preview.retry_of_failed
        else ""
    )
    state = preview.state.replace("_", " ")
    if preview.partial:
        return Message(
            "Run the runbook ",
            Code(preview.runbook),
            f" ({preview.description}) for ",
            Code(preview.flag_key),
            f" (now {state}, {preview.percentage}%)? It is partial: the flag stays on and the "
            "rollout is paused, not rolled back. These steps will run, in order:\n",
            Message.join("\n", step_lines(preview.steps)),
            retry,
        )
    return Message(
        "Roll back ",
        Code(preview.flag_key),
        f" (now {state}, {preview.percentage}%)? These steps will run, in order:\n",
        Message.join("\n", step_lines(preview.steps)),
        retry,
    )


def other_runbooks_text(preview: RollbackPreview) -> Message | None:
    """The plan's other runbooks and how to run one, or None when it has only one."""
    others = [(n, d) for n, d in preview.runbooks if n != preview.runbook]
    if not others:
        return None
    lines = [Message("• ", Code(name), f": {what}") for name, what in others]
    return Message(
        "Other runbooks of this plan (",
        Code(f"/rollback {preview.flag_key} <runbook> <reason>"),
        "):\n",
        Message.join("\n", lines),
    )


def report_text(report: RollbackReport) -> str:
    """A short private answer once the rollback has run (details are in the thread)."""
    if report.partial and not report.failed:
        return (
            f":white_check_mark: Runbook `{report.runbook}` ran for `{report.flag_key}`: "
            f"{len(report.steps)} steps done. The rollout is still running, paused: "
            f"`/rollout resume {report.flag_key}` when it is safe (details in the thread)."
        )
    if report.failed:
        return (
            f":rotating_light: The rollback of `{report.flag_key}` FAILED at step "
            f"*{report.failed_step}*; see the rollout's thread. The owner and operations were told."
        )
    return (
        f":white_check_mark: `{report.flag_key}` is rolled back: {len(report.steps)} steps done "
        "(details in the rollout's thread)."
    )


def run_rollback_direct(text: str, actor: Actor, service: RollbackService) -> Reply:
    """The shell's `/rollback`: without a reason it shows what would run (the modal's part);
    with one it runs. Never raises for bad input."""
    if is_help(text):
        return Reply(USAGE)
    try:
        flag, rest = parse(text)
        runbook, reason = split_runbook(rest, service.runbooks(flag))
        preview = service.preview(flag, actor, runbook)
        if not reason:
            named = f" {runbook}" if runbook != FULL else ""
            others = other_runbooks_text(preview)
            return Reply.said(
                Message(
                    confirmation_text(preview),
                    "\nTo run it, give the reason: ",
                    Code(f"/rollback {flag}{named} <reason>"),
                    ".",
                    Message("\n", others) if others else "",
                ),
                [],
            )
        report = service.roll_back(flag, actor, reason, runbook)
        return Reply(report_text(report), error=report.failed)
    except RollbotError as exc:
        return refusal(exc.message, exc.hint)
