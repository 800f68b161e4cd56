"""`/approve`: what waits for your signature, a rollout's approval table, its checklists.

Signing itself is a button press (Approve / Reject on the DM or the card), so a signature
always names the exact gate visit it was asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.commands.reply import Reply, refusal
from bot.domain.actions import Action
from bot.domain.actor import Actor
from bot.domain.errors import RollbotError
from bot.domain.flag import is_valid_flag_key
from bot.domain.message import Code, Message, Strong, person
from bot.services.rollouts.views import Button
from bot.services.signoff.feature import Signoffs
from bot.services.signoff.ports import CheckButton
from bot.services.signoff.tables import signatures_table, waiting_for
from bot.wording import words

USAGE = """*Usage:* `/approve [<subcommand>]`
• `/approve` — the sign-offs waiting for you
• `/approve <flag>` — the rollout's approval chain: Role | Name | Signature | Date
• `/approve checklist <flag>` — its checklist items, with a Check button for each open one
• `/approve check <flag> <checklist> <n>` — check item n (from 1) of a checklist, as its owner
• `/approve help` — this help
Sign with the *Approve* / *Reject* buttons of the request you were sent (or of the card)."""


@dataclass(frozen=True)
class ItemLine:
    """One checklist item in a reply: its text and, while open, its Check button."""

    text: str
    button: Button | None = None


@dataclass(frozen=True)
class ApproveReply(Reply):
    """A reply that may list checklist items with buttons."""

    items: tuple[ItemLine, ...] = ()


def run_approve(text: str, actor: Actor, signoffs: Signoffs) -> Reply:
    """Run `/approve <text>` for `actor`; never raises for bad input."""
    words = text.split()
    if words and words[0].lower() in ("help", "-h", "--help"):
        return Reply(USAGE)
    try:
        if not words:
            return _waiting(actor, signoffs)
        sub = words[0].lower()
        if sub == "checklist":
            return _checklist(_one_flag(words[1:], "checklist"), signoffs)
        if sub == "check":
            return _check(words[1:], actor, signoffs)
        if len(words) > 1:
            raise RollbotError(f"Unexpected `{' '.join(words[1:])}`.", "See `/approve help`.")
        return _table(words[0], signoffs)
    except RollbotError as exc:
        return refusal(exc.message, exc.hint)


def _one_flag(args: list[str], sub: str) -> str:
    if len(args) != 1:
        raise RollbotError(
            f"`/approve {sub}` needs one flag key.", f"Example: `/approve {sub} realtime-features`."
        )
    return args[0]


def _waiting(actor: Actor, signoffs: Signoffs) -> Reply:
    if not signoffs.enforced:
        return Reply(
            "Sign-off gates are not enforced here (`signoff.enforce_gates` is off), so nothing "
            "waits for you."
        )
    found = waiting_for(signoffs.service.context, signoffs.service.reader, actor.id)
    if not found:
        return Reply("Nothing is waiting for your signature.")
    lines = ["*Waiting for your signature:*"]
    for view, role in found:
        lines.append(
            f"• `{view.flag_key}` as *{role}* — {view.phase_name}, {view.percentage}% "
            f"(see `/approve {view.flag_key}`)"
        )
    return Reply("\n".join(lines), [view for view, _ in found])


def _table(flag: str, signoffs: Signoffs) -> Reply:
    if not is_valid_flag_key(flag):
        raise RollbotError(f"`{flag}` is not a flag key or a subcommand.", "See `/approve help`.")
    view, rows = signatures_table(signoffs.service.context, flag)
    if not rows:
        return Reply(f"The plan of `{flag}` has no sign-off gates.", [view])
    lines: list[Message] = [
        Message(Strong(f"Approval chain of {flag}"), f" ({view.plan_title}):"),
        Message("| Role | Name | Signature | Date |"),
    ]
    lines += [
        Message(
            f"| {role} | ",
            person(user) if user else "________",
            f" | {sig or '________'} | {date or '_____'} |",
        )
        for role, user, sig, date in rows
    ]
    if not signoffs.enforced:
        lines.append(
            Message(
                "Sign-off gates are not enforced here (", Code("signoff.enforce_gates"), " is off)."
            )
        )
    return Reply.said(Message.join("\n", lines), [view])


def _checklist(flag: str, signoffs: Signoffs) -> ApproveReply:
    view, states = signoffs.checklists.items(flag)
    if not states:
        return ApproveReply(f"The plan of `{flag}` has no checklists.")
    directory = signoffs.service.directory
    items: list[ItemLine] = []
    done = sum(1 for s in states if s.done)
    for state in states:
        role = directory.role(state.item.owner)
        owner = role.name if role else state.item.owner
        number = state.index + 1
        mark = ":ballot_box_with_check:" if state.done else ":white_large_square:"
        if state.status.value == "failing":
            mark = ":red_circle:"
        text = f"{mark} *{state.checklist.title}* {number}. {state.item.text} ({owner})"
        if state.detail and not state.done:
            text += f" — {state.detail}"
        button = None
        if not state.done:
            value = CheckButton(view.id, state.checklist.id, state.index).dumps()
            button = Button(f"Check {state.item.text}", Action.CHECK, value)
        items.append(ItemLine(text, button))
    head = f"*Checklists of `{flag}`*: {done} of {len(states)} items done."
    return ApproveReply(head, items=tuple(items))


def _check(args: list[str], actor: Actor, signoffs: Signoffs) -> Reply:
    if len(args) != 3 or not args[2].isdigit():
        raise RollbotError(
            "`/approve check` needs a flag, a checklist id and an item number.",
            "Example: `/approve check realtime-features code-readiness 2`.",
        )
    flag, checklist_id, number = args[0], args[1], int(args[2])
    view, states = signoffs.checklists.items(flag)
    ids = sorted({s.checklist.id for s in states})
    if checklist_id not in ids:
        raise RollbotError(
            f"The plan of `{flag}` has no checklist `{checklist_id}`.",
            "Checklists: " + ", ".join(f"`{i}`" for i in ids) + ".",
        )
    result = signoffs.checklists.check(CheckButton(view.id, checklist_id, number - 1), actor)
    return Reply.said(words(result.text), [])


def report_subcommand(signoffs: Signoffs) -> Callable[[list[str], Actor], Reply]:
    """`/rollout report <flag>`: the rollout's report in Markdown."""

    def report(args: list[str], actor: Actor) -> Reply:
        if len(args) != 1:
            raise RollbotError(
                "`/rollout report` needs a flag key.",
                "Example: `/rollout report realtime-features`.",
            )
        return Reply.said(signoffs.reports.render(args[0]), [])

    return report
