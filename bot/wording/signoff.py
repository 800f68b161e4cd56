"""The words of the sign-off chain: asks and what closes them, signatures and rejections in
a rollout's thread, the replies to whoever clicked, escalations, timeouts, checklist checks,
probes, post-migration task reminders, and the gate's notes and holds on the rollout's
card."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from bot.domain.durations import format_duration
from bot.domain.message import Code, GroupMention, Mention, Message, Sign, Strong, person
from bot.services.events import Event
from bot.services.signoff.events import (
    AlreadyCheckedReply,
    AlreadySignedReply,
    AskClosed,
    AskSigned,
    ChainState,
    CheckedReply,
    ChecklistsHolding,
    GateRejected,
    GateSigned,
    GateTimedOut,
    ItemChecked,
    MetricReading,
    NoLongerNeeded,
    OpenChecklist,
    OpenItemsHold,
    ProbeChanged,
    RejectedReply,
    RejectionTold,
    RejectPreview,
    RoleHolders,
    RoleStatus,
    SignedReply,
    SignoffChainNote,
    SignoffEscalated,
    TaskDue,
    TaskReminder,
    TasksDue,
    TasksOpen,
    TimeoutTold,
)
from bot.services.signoff.ports import Ask, AskStage

# -- the ask -----------------------------------------------------------------------------


def ask_headline(a: Ask) -> Message:
    """The first line of an ask: what is asked of whom."""
    prefix = {AskStage.REMINDER: "Reminder: ", AskStage.ESCALATION: "Escalated: "}.get(a.stage, "")
    return Message(
        f"{prefix}your sign-off as ",
        Strong(a.role_name),
        " is needed for ",
        Code(a.flag_key),
        " (",
        Strong(a.gate_title),
        ")",
    )


def ask_note(a: Ask) -> str:
    """A reminder's or an escalation's note (empty for the first ask)."""
    waited = format_duration(a.waited)
    if a.stage is AskStage.REMINDER:
        return f"Reminder {a.reminders_sent}: asked {waited} ago."
    if a.stage is AskStage.ESCALATION:
        return f"Escalated: {a.role_name} has not signed in {waited}."
    return ""


def chain_lines(chain: ChainState) -> Message:
    """One line per role: signed (who), waiting for a signature, or not yet asked; then the
    open rejection, if any."""
    lines: list[Message] = []
    for line in chain.lines:
        if line.status is RoleStatus.SIGNED:
            lines.append(Message(Sign.OK, f"{line.role_name}: signed by ", Mention(line.signed_by)))
        elif line.status is RoleStatus.WAITING:
            lines.append(Message(Sign.WAITING, f"{line.role_name}: waiting for signature"))
        else:
            lines.append(Message(Sign.PENDING, f"{line.role_name}: not yet asked"))
    rejection = chain.rejection
    if rejection is not None:
        lines.append(
            Message(
                Sign.STOPPED,
                "Rejected by ",
                Mention(rejection.user),
                f" ({rejection.role_name}): {rejection.reason}",
            )
        )
    return Message.join("\n", lines)


def open_checklists(checklists: tuple[OpenChecklist, ...]) -> str:
    """For each required checklist with open items: done count and the open items (owner,
    and a failing probe's detail); a line saying all is done when none are open."""
    lines: list[str] = []
    for c in checklists:
        items = "; ".join(
            f"{i.text} ({i.owner_name}"
            + (f", probe: {i.probe_detail}" if i.probe_detail else "")
            + ")"
            for i in c.open_items
        )
        more = f"; and {c.more} more" if c.more else ""
        lines.append(f"• {c.title}: {c.done}/{c.total} done. Open: {items}{more}")
    return "\n".join(lines) or "All required items done."


def metric_readings(readings: tuple[MetricReading, ...]) -> str:
    """The latest value of every metric probe, a line each (empty without any)."""
    return "\n".join(f"• {r.item_text}: {r.detail or 'not measured yet'}" for r in readings)


def asked(a: Ask) -> Message:
    """An ask in one go (where a chat shows no fields): headline, note, chain, checklists
    and metrics, a line each."""
    lines: list[str | Message] = [ask_headline(a) + "."]
    note = ask_note(a)
    if note:
        lines.append(note)
    lines += [chain_lines(a.chain), open_checklists(a.checklists)]
    metrics = metric_readings(a.metrics)
    if metrics:
        lines += ["Current metrics:", metrics]
    return Message.join("\n", lines)


def ask_signed(e: AskSigned) -> Message:
    """A sent ask, closed because its role signed."""
    return Message("Signed by ", e.actor.named, f" as {e.role_name}.")


def ask_closed(e: AskClosed) -> Message:
    """A sent ask, closed because nobody needs to sign it any more."""
    if e.why is NoLongerNeeded.ROLLED_BACK:
        return Message("No longer needed: the rollout was rolled back; the chain starts again.")
    if e.why is NoLongerNeeded.COMPLETED:
        return Message("No longer needed: the rollout is complete.")
    return Message("No longer needed: this gate has passed or the step changed.")


# -- the rollout's card ------------------------------------------------------------------


def chain_note(e: SignoffChainNote) -> Message:
    """The gate's chain on the card: its title, its order, a line per role."""
    order = "in order" if e.in_order else "in any order"
    return Message(Strong(f"Sign-off: {e.gate_title}"), f" ({order})\n", chain_lines(e.chain))


def checklists_holding(e: ChecklistsHolding) -> Message:
    """The gate's checklists with open items, on the card."""
    return Message(Strong("Checklists holding this gate:"), "\n", open_checklists(e.checklists))


# Up to this many open items are named on the card's waiting line; more are counted.
NAMED_ITEMS = 3


def open_items_hold(e: OpenItemsHold) -> Message:
    """The open items of the gate's own checklists, on the waiting line: named when few,
    else counted."""
    if len(e.items) <= NAMED_ITEMS:
        return Message("open: " + ", ".join(f"“{text}”" for text in e.items))
    return Message(f"{len(e.items)} checklist item(s) of this gate open")


def _task_line(t: TaskDue, overdue: bool) -> Message:
    when = f"{format_duration(t.by)} overdue" if overdue else f"due in {format_duration(t.by)}"
    return Message(f"“{t.text}” ({t.owner_name}, {when})")


def tasks_due(e: TasksDue) -> Message:
    """The overdue post-migration tasks, or those due soon, on a completed rollout's card."""
    lines = Message.join("; ", (_task_line(t, e.overdue) for t in e.tasks))
    if not e.overdue:
        return Message(Sign.PENDING, "Due soon: ", lines)
    return Message(
        Sign.OVERDUE,
        Strong(f"{len(e.tasks) + e.more} post-migration task(s) overdue"),
        ": ",
        lines,
        f" and {e.more} more" if e.more else "",
    )


def tasks_open(e: TasksOpen) -> Message:
    """Open post-migration tasks, none due soon, on a completed rollout's card."""
    return Message(
        f"{e.count} post-migration task(s) open; next due ",
        Strong(e.next_text),
        f" in {format_duration(e.next_in)}.",
    )


# -- signing and rejecting ---------------------------------------------------------------


def signed(e: GateSigned) -> Message:
    """A signature, in the rollout's thread."""
    text = Message(e.actor.named, " signed ", Strong(e.gate_title), f" as {e.role_name}.")
    if e.complete:
        return text + " All signatures are in."
    return text + f" Next: {', '.join(e.next_roles)}."


def signed_reply(e: SignedReply) -> Message:
    """The reply to the signer."""
    return Message(
        "Signed: ", Strong(e.gate_title), " for ", Code(e.flag_key), f" as {e.role_name}."
    )


def already_signed(e: AlreadySignedReply) -> Message:
    """The reply to a repeated signature."""
    return Message(
        "You already signed ",
        Strong(e.gate_title),
        f" as {e.role_name} ({e.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC); nothing more to do.",
    )


def rejected(e: GateRejected) -> Message:
    """A rejection, in the rollout's thread."""
    return Message(
        e.actor.named,
        " rejected ",
        Strong(e.gate_title),
        f" as {e.role_name}: ",
        e.reason,
        ". The rollout is paused.",
    )


def rejection_told(e: RejectionTold) -> Message:
    """The requester's direct message about a rejection."""
    return Message(
        Sign.STOPPED,
        "Your rollout of ",
        Code(e.flag_key),
        " is paused: ",
        rejected(e.rejected),
        " Fix what is asked, then ",
        Code(f"/rollout resume {e.flag_key}"),
        f"; {e.rejected.role_name} can then approve.",
    )


def rejected_reply(e: RejectedReply) -> Message:
    """The reply to the person who rejected."""
    return Message(
        "Rejected ",
        Strong(e.gate_title),
        " for ",
        Code(e.flag_key),
        "; the rollout is paused and the requester (",
        person(e.requester),
        ") has been told why.",
    )


def reject_preview(e: RejectPreview) -> Message:
    """What rejecting will do, above the reason form."""
    return Message(
        "Rejecting ",
        Strong(e.gate_title),
        " for ",
        Code(e.flag_key),
        f" as {e.role_name} pauses the rollout and tells ",
        person(e.requester),
        " why.",
    )


# -- escalations and timeouts ------------------------------------------------------------


def holders(h: RoleHolders | None, role_name: str) -> Message:
    """Who holds a role: its members and its user group (the role's name when it is not in
    the config)."""
    if h is None:
        return Message(role_name)
    people: list[Mention | GroupMention] = [Mention(m) for m in h.members]
    if h.usergroup:
        people.append(GroupMention(h.usergroup))
    if not people:
        return Message("nobody yet (add members in the config)")
    return Message.join(", ", people)


def escalated(e: SignoffEscalated) -> Message:
    """An escalation to the rollout's channel."""
    return Message(
        Sign.INCIDENT,
        "Sign-off ",
        Strong(e.gate_title),
        " for ",
        Code(e.flag_key),
        f" is waiting for {e.role_name} (",
        holders(e.holders, e.role_name),
        f") since {format_duration(e.waited)}. Anyone holding the role: ",
        Code(f"/approve {e.flag_key}"),
        ".",
    )


def timed_out(e: GateTimedOut) -> Message:
    """A gate timeout, in the rollout's thread."""
    text = Message(
        "Sign-off ",
        Strong(e.gate_title),
        f" timed out after {format_duration(e.waited)} without every signature; "
        "the rollout is paused (it never advances without them).",
    )
    return Message(text, " Owner: ", person(e.owner), ".") if e.owner is not None else text


def timeout_told(e: TimeoutTold) -> Message:
    """The owner's direct message about a gate timeout."""
    return Message(Sign.TIMEOUT, timed_out(e.timed_out))


# -- checklists --------------------------------------------------------------------------


def item_checked(e: ItemChecked) -> Message:
    """A check by hand, in the rollout's thread."""
    return Message(e.actor.named, f" checked “{e.item_text}” ({e.checklist_title}).")


def checked_reply(e: CheckedReply) -> Message:
    """The reply to the person who checked an item."""
    return Message(f"Checked “{e.item_text}” for ", Code(e.flag_key), ".")


def already_checked(e: AlreadyCheckedReply) -> Message:
    """The reply to a check of an item already checked."""
    return Message(f"“{e.item_text}” was already checked by ", person(e.checked_by), ".")


def probe_changed(e: ProbeChanged) -> Message:
    """A probe that started passing or failing, in the rollout's thread."""
    return Message(f"Probe {'passes' if e.passed else 'fails'}: ", e.detail, ".")


def task_reminder(e: TaskReminder) -> Message:
    """A post-migration task due soon or overdue."""
    when = (
        f"was due {format_duration(e.by)} ago"
        if e.overdue
        else f"is due in {format_duration(e.by)}"
    )
    return Message(
        Sign.OVERDUE if e.overdue else Sign.PENDING,
        "Post-migration task ",
        Strong(e.item_text),
        f" ({e.checklist_title}) of ",
        Code(e.flag_key),
        f" {when}. Check it with ",
        Code(f"/approve checklist {e.flag_key}"),
        " once it is done.",
    )


WORDS: dict[type[Event], Callable[[Any], Message]] = {
    Ask: asked,
    AskSigned: ask_signed,
    AskClosed: ask_closed,
    GateSigned: signed,
    SignedReply: signed_reply,
    AlreadySignedReply: already_signed,
    GateRejected: rejected,
    RejectionTold: rejection_told,
    RejectedReply: rejected_reply,
    RejectPreview: reject_preview,
    SignoffEscalated: escalated,
    GateTimedOut: timed_out,
    TimeoutTold: timeout_told,
    ItemChecked: item_checked,
    CheckedReply: checked_reply,
    AlreadyCheckedReply: already_checked,
    ProbeChanged: probe_changed,
    TaskReminder: task_reminder,
    SignoffChainNote: chain_note,
    ChecklistsHolding: checklists_holding,
    OpenItemsHold: open_items_hold,
    TasksDue: tasks_due,
    TasksOpen: tasks_open,
}
