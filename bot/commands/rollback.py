"""`/rollback <flag> [reason]`: what it would run (the confirmation), and running it."""

from __future__ import annotations

from bot.commands.reply import Reply, refusal
from bot.domain.actor import Actor
from bot.domain.errors import RollbotError
from bot.domain.flag import FLAG_KEY_HINT, is_valid_flag_key
from bot.domain.message import Code, Message
from bot.services.rollback.report import RollbackPreview, RollbackReport
from bot.services.rollback.service import RollbackService

USAGE = """*Usage:* `/rollback <flag> [reason]`
Rolls the flag's rollout back: turns the flag off first, then runs the plan's rollback
runbook (drain, revert, deploy the previous version, verify health), reporting every step in
the rollout's thread. In Slack a confirmation shows the steps and asks for the reason.
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
    return Message(
        "Roll back ",
        Code(preview.flag_key),
        f" (now {state}, {preview.percentage}%)? These steps will run, in order:\n",
        Message.join("\n", preview.steps),
        retry,
    )


def report_text(report: RollbackReport) -> str:
    """A short private answer once the rollback has run (details are in the thread)."""
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
        flag, reason = parse(text)
        preview = service.preview(flag, actor)
        if not reason:
            return Reply.said(
                Message(
                    confirmation_text(preview),
                    "\nTo run it, give the reason: ",
                    Code(f"/rollback {flag} <reason>"),
                    ".",
                ),
                [],
            )
        report = service.roll_back(flag, actor, reason)
        return Reply(report_text(report), error=report.failed)
    except RollbotError as exc:
        return refusal(exc.message, exc.hint)
