"""`/rollout`: start, status, list, advance, pause, resume, set, help."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from datetime import UTC

from bot.commands.reply import Reply, echo, refusal
from bot.domain.actor import Actor
from bot.domain.errors import RollbotError
from bot.domain.message import Code, Message, Strong
from bot.services.events import Said
from bot.services.rollouts.service import RolloutService
from bot.services.rollouts.views import RolloutView
from bot.wording import waiting_line, words

USAGE = """*Usage:* `/rollout <subcommand>`
• `/rollout start <flag> [plan] [--force]` — start a phased rollout of a flag
  (`--force`: after a rollback of it that did not finish)
• `/rollout status [<flag>]` — where a rollout stands (all active ones without a flag)
• `/rollout list` — active and recent rollouts
• `/rollout advance <flag>` — move to the next step now
• `/rollout pause <flag>` / `/rollout resume <flag>` — hold and continue
• `/rollout set <flag> <percent> [--force]` — set the percentage by hand (lowering needs --force)
• `/rollout report <flag>` — the rollout's report: checklists and approval table (Markdown)
• `/rollout retro <flag>` — a draft retrospective from the rollout's timeline (Markdown)
• `/rollout digest [name]` — a status digest now, only for you (rollouts, sign-offs, incidents)
• `/rollout help` — this help"""

SUBCOMMANDS = ("start", "status", "list", "advance", "pause", "resume", "set", "help")


def summary_line(v: RolloutView) -> Message:
    """One line about a rollout, for lists."""
    return Message(
        "• ",
        Code(v.flag_key),
        f" — {v.state.value.replace('_', ' ')}, {v.percentage}%, "
        f"{v.phase_name} (step {v.step_number}/{v.step_count}) — ",
        waiting_line(v),
    )


def run_rollout(
    text: str,
    actor: Actor,
    service: RolloutService,
    channel_id: str | None = None,
    extra: Mapping[str, Callable[[list[str], Actor], Reply]] | None = None,
) -> Reply:
    """Run `/rollout <text>` for `actor`; never raises for bad input.

    `extra` adds subcommands from other features (e.g. `report`): name -> handler(args, actor).
    """
    words = text.split()
    if not words or words[0].lower() in ("help", "-h", "--help"):
        return Reply(USAGE)
    sub, args = words[0].lower(), words[1:]
    if extra and sub in extra:
        try:
            return extra[sub](args, actor)
        except RollbotError as exc:
            return refusal(exc.message, exc.hint)
    if sub not in SUBCOMMANDS:
        known = [*SUBCOMMANDS[:-1], *sorted(extra or {}), SUBCOMMANDS[-1]]
        close = difflib.get_close_matches(sub, known, n=1)
        return refusal(
            f"`{echo(sub)}` is not a /rollout subcommand."
            + (f" Did you mean `{close[0]}`?" if close else ""),
            "Subcommands: " + ", ".join(f"`{s}`" for s in known) + ".",
            USAGE,
        )
    try:
        return _dispatch(sub, args, actor, service, channel_id)
    except RollbotError as exc:
        return refusal(exc.message, exc.hint)


def _need_flag(sub: str, args: list[str], most: int = 1) -> str:
    if not args:
        raise RollbotError(
            f"`/rollout {sub}` needs a flag key.", f"Example: `/rollout {sub} realtime-features`."
        )
    if len(args) > most:
        extra = " ".join(args[most:])
        raise RollbotError(
            f"Unexpected `{extra}` after `/rollout {sub} {args[0]}`.", "See `/rollout help`."
        )
    return args[0]


def _dispatch(
    sub: str, args: list[str], actor: Actor, service: RolloutService, channel_id: str | None
) -> Reply:
    if sub == "start":
        force = "--force" in args
        args = [a for a in args if a != "--force"]
        flag = _need_flag(sub, args, most=2)
        plan = args[1] if len(args) > 1 else None
        outcome = service.start(flag, plan, actor, channel_id, force=force)
        return Reply.said(Message("Started: ", _said(outcome.event)), [outcome.view])
    if sub == "status":
        if args:
            view = service.status(_need_flag(sub, args))
            return Reply.said(summary_line(view), [view])
        views = service.active()
        if not views:
            return Reply("No rollout is in progress. Start one with `/rollout start <flag>`.")
        return Reply.said(Message.join("\n", (summary_line(v) for v in views)), views)
    if sub == "list":
        if args:
            raise RollbotError("`/rollout list` takes no arguments.", "Try `/rollout list`.")
        views = service.recent()
        if not views:
            return Reply("No rollouts yet. Start one with `/rollout start <flag>`.")
        lines = [Message(Strong("Rollouts"), " (newest first):")]
        for v in views:
            lines.append(summary_line(v) + f" — started {v.started_at.astimezone(UTC):%Y-%m-%d}")
        return Reply.said(Message.join("\n", lines), [])
    if sub in ("advance", "pause", "resume"):
        flag = _need_flag(sub, args)
        action = {"advance": service.advance, "pause": service.pause, "resume": service.resume}[sub]
        outcome = action(flag, actor)
        return Reply.said(_said(outcome.event), [outcome.view])
    if sub == "set":
        return _set(args, actor, service)
    return Reply(USAGE)


def _set(args: list[str], actor: Actor, service: RolloutService) -> Reply:
    force = "--force" in args
    rest = [a for a in args if a != "--force"]
    if len(rest) != 2:
        raise RollbotError(
            "`/rollout set` needs a flag key and a percentage.",
            "Example: `/rollout set realtime-features 25` (add `--force` to lower it).",
        )
    flag, raw = rest
    number = raw.rstrip("%")
    # ASCII digits only: `isdigit` also takes "²", "５" and "٥٠", which are no percentage.
    if not (number.isascii() and number.isdigit()) or len(number) > 3:
        raise RollbotError(
            f"`{echo(raw)}` is not a whole number from 0 to 100.",
            "Give a whole percentage, e.g. `25`.",
        )
    percentage = int(number)
    if percentage > 100:
        raise RollbotError(
            f"{percentage}% is more than 100%.", "Give a whole percentage from 0 to 100."
        )
    outcome = service.set_percentage(flag, percentage, actor, force=force)
    return Reply.said(_said(outcome.event), [outcome.view])


def _said(event: Said) -> Message:
    """A rollout event's words, for a reply."""
    return words(event)


def retro_subcommand(render: Callable[[str], str]) -> Callable[[list[str], Actor], Reply]:
    """`/rollout retro <flag>`: the draft retrospective of the flag's latest rollout."""

    def retro(args: list[str], actor: Actor) -> Reply:
        if len(args) != 1:
            raise RollbotError(
                "`/rollout retro` needs a flag key.",
                "Example: `/rollout retro realtime-features`.",
            )
        # Plain text from rollbot's records (names, reasons, titles): escaped by each chat.
        return Reply.said(Message(render(args[0])), [])

    return retro
