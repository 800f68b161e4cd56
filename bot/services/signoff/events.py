"""What happens in the sign-off chain, as events: signatures and rejections in a rollout's
thread, the replies to the person who clicked, the direct messages (asks closing, the
requester told, task reminders) and the escalations to the channel.

Facts only; bot/wording/signoff.py words them (the same sentences for Slack and the shell).
The ask itself (`Ask`, with its chain, open checklists and metrics as data) is in ports.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.actor import Actor
from bot.domain.checklist import Checklist, ItemState, ItemStatus
from bot.domain.roles import Role, RoleDirectory
from bot.domain.signoff import Chain
from bot.services.events import Event

# -- the parts of an ask: the chain, the open checklists, the metrics ---------------------


class RoleStatus(StrEnum):
    """Where a role of a chain stands."""

    SIGNED = "signed"
    WAITING = "waiting"  # asked now: next to sign
    NOT_ASKED = "not_asked"


@dataclass(frozen=True)
class ChainLine:
    """One role of a gate's chain: signed (by whom), waiting, or not yet asked."""

    role_name: str
    status: RoleStatus
    signed_by: str = ""  # the signer's user id, when signed


@dataclass(frozen=True)
class ChainRejection:
    """The open rejection of a chain: who, as which role, why."""

    user: str
    role_name: str
    reason: str


@dataclass(frozen=True)
class ChainState:
    """A gate's chain as a signer is shown it: a line per role, then the open rejection."""

    lines: tuple[ChainLine, ...]
    rejection: ChainRejection | None = None


@dataclass(frozen=True)
class OpenItem:
    """An item of a checklist not done yet: its owner, and a failing probe's detail."""

    text: str
    owner_name: str
    probe_detail: str = ""  # only when its probe fails


@dataclass(frozen=True)
class OpenChecklist:
    """A required checklist with open items: how many are done, the first open ones."""

    title: str
    done: int
    total: int
    open_items: tuple[OpenItem, ...]  # the first few
    more: int = 0  # open items not listed


@dataclass(frozen=True)
class MetricReading:
    """The latest value of a metric probe (empty detail: not measured yet)."""

    item_text: str
    detail: str = ""


# Up to this many open items of a checklist are listed in an ask; more are counted.
LISTED_ITEMS = 5


def _role_name(directory: RoleDirectory, role_id: str) -> str:
    role = directory.role(role_id)
    return role.name if role else role_id


def chain_state(chain: Chain, directory: RoleDirectory) -> ChainState:
    """The chain's roles as data: signed by whom, waiting, or not yet asked."""
    nxt = set(chain.next_roles())
    lines: list[ChainLine] = []
    for role_id in chain.gate.roles:
        name = _role_name(directory, role_id)
        signed = chain.signatures.get(role_id)
        if signed is not None:
            lines.append(ChainLine(name, RoleStatus.SIGNED, signed.user))
        elif role_id in nxt:
            lines.append(ChainLine(name, RoleStatus.WAITING))
        else:
            lines.append(ChainLine(name, RoleStatus.NOT_ASKED))
    found = chain.open_rejection()
    rejection = (
        ChainRejection(found.user, _role_name(directory, found.role), found.reason)
        if found is not None
        else None
    )
    return ChainState(tuple(lines), rejection)


def open_checklists(
    required: list[Checklist], states: list[ItemState], directory: RoleDirectory
) -> tuple[OpenChecklist, ...]:
    """Each required checklist with open items: its done count and its first open items."""
    out: list[OpenChecklist] = []
    for checklist in required:
        mine = [s for s in states if s.checklist.id == checklist.id]
        missing = [s for s in mine if not s.done]
        if not missing:
            continue
        items = tuple(
            OpenItem(
                s.item.text,
                _role_name(directory, s.item.owner),
                s.detail if s.status is ItemStatus.FAILING and s.detail else "",
            )
            for s in missing[:LISTED_ITEMS]
        )
        out.append(
            OpenChecklist(
                checklist.title,
                len(mine) - len(missing),
                len(mine),
                items,
                max(len(missing) - LISTED_ITEMS, 0),
            )
        )
    return tuple(out)


def metric_readings(states: list[ItemState]) -> tuple[MetricReading, ...]:
    """The latest value of every metric probe of the plan."""
    return tuple(
        MetricReading(s.item.text, s.detail or "")
        for s in states
        if s.item.probe is not None and s.item.probe.metric is not None
    )


@dataclass(frozen=True)
class RoleHolders:
    """Who holds a role: its members and its user group."""

    members: tuple[str, ...] = ()
    usergroup: str | None = None

    @staticmethod
    def of(role: Role) -> RoleHolders:
        """The holders of `role`."""
        return RoleHolders(tuple(role.members), role.usergroup)


# -- the rollout's card ------------------------------------------------------------------


class SignoffChainNote(Event, kind="signoff.chain_note"):
    """The card's note on the gate of the rollout's step: its chain, role by role."""

    gate_title: str
    in_order: bool  # the roles sign in order (else in any order)
    chain: ChainState


class ChecklistsHolding(Event, kind="signoff.checklists_holding"):
    """The card's note on the gate's checklists with open items."""

    checklists: tuple[OpenChecklist, ...]


class OpenItemsHold(Event, kind="signoff.open_items_hold"):
    """What the gate's own checklists hold the rollout with, on the card's waiting line:
    the text of every item still open."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class TaskDue:
    """A post-migration task on a completed rollout's card: its owner's role, and how long
    it is overdue or until it is due."""

    text: str
    owner_name: str
    by: timedelta


class TasksDue(Event, kind="signoff.tasks_due"):
    """The card's note on the post-migration tasks past their due date (`overdue`) or due
    soon: the first few, and how many more are overdue."""

    overdue: bool
    tasks: tuple[TaskDue, ...]
    more: int = 0


class TasksOpen(Event, kind="signoff.tasks_open"):
    """The card's note when post-migration tasks are open and none is due soon: how many,
    and the one due first."""

    count: int
    next_text: str
    next_in: timedelta


# -- signing -----------------------------------------------------------------------------


class GateSigned(Event, kind="signoff.signed"):
    """Someone signed a gate as a role (in the rollout's thread)."""

    actor: Actor
    gate_title: str
    role_name: str
    complete: bool  # every signature is in
    next_roles: tuple[str, ...] = ()  # the names of the roles to sign next


class SignedReply(Event, kind="signoff.signed_reply"):
    """The reply to the person who signed."""

    gate_title: str
    flag_key: str
    role_name: str


class AlreadySignedReply(Event, kind="signoff.already_signed"):
    """The reply to a repeat of a signature: nothing changed."""

    gate_title: str
    role_name: str
    at: datetime


class AskSigned(Event, kind="signoff.ask_signed"):
    """A sent ask closes because its role signed."""

    actor: Actor
    role_name: str


class NoLongerNeeded(StrEnum):
    """Why a sent ask closed without a signature of its own."""

    ROLLED_BACK = "rolled_back"
    COMPLETED = "completed"
    MOVED = "moved"  # the gate passed or the step changed


class AskClosed(Event, kind="signoff.ask_closed"):
    """A sent ask closes: nobody needs to sign it any more."""

    why: NoLongerNeeded


# -- rejecting ---------------------------------------------------------------------------


class GateRejected(Event, kind="signoff.rejected"):
    """Someone rejected a gate as a role, with a reason (in the rollout's thread)."""

    actor: Actor
    gate_title: str
    role_name: str
    reason: str  # the rejecter's words


class RejectionTold(Event, kind="signoff.rejection_told"):
    """The requester is told their rollout is paused by a rejection."""

    flag_key: str
    rejected: GateRejected


class RejectedReply(Event, kind="signoff.rejected_reply"):
    """The reply to the person who rejected."""

    gate_title: str
    flag_key: str
    requester: str


class RejectPreview(Event, kind="signoff.reject_preview"):
    """What rejecting will do, shown with the reason form."""

    gate_title: str
    flag_key: str
    role_name: str
    requester: str


# -- asking ------------------------------------------------------------------------------


class SignoffEscalated(Event, kind="signoff.escalated"):
    """Nobody holding a role signed in time and it has no backups: the rollout's channel
    is told."""

    gate_title: str
    flag_key: str
    role_name: str
    holders: RoleHolders | None  # None: the role is not in the config
    waited: timedelta


class GateTimedOut(Event, kind="signoff.timed_out"):
    """A gate waited past its timeout: the rollout is paused (in its thread)."""

    gate_title: str
    waited: timedelta
    owner: str | None = None  # the rollout's owner, named when this timeout paused it


class TimeoutTold(Event, kind="signoff.timeout_told"):
    """The rollout's owner is told its gate timed out."""

    timed_out: GateTimedOut


# -- checklists --------------------------------------------------------------------------


class ItemChecked(Event, kind="signoff.item_checked"):
    """An owner checked a checklist item (in the rollout's thread)."""

    actor: Actor
    item_text: str
    checklist_title: str


class CheckedReply(Event, kind="signoff.checked_reply"):
    """The reply to the person who checked an item."""

    item_text: str
    flag_key: str


class AlreadyCheckedReply(Event, kind="signoff.already_checked"):
    """The reply to a check of an item already checked by hand."""

    item_text: str
    checked_by: str  # a user id, or "?"


class ProbeChanged(Event, kind="signoff.probe_changed"):
    """A checklist probe started passing or failing (in the rollout's thread)."""

    passed: bool
    detail: str  # what the probe found


class TaskReminder(Event, kind="signoff.task_reminder"):
    """A post-migration task is due soon, or overdue: its owners are told (else the
    rollout's thread)."""

    item_text: str
    checklist_title: str
    flag_key: str
    overdue: bool
    # How long until it is due, or (overdue) how long ago it was.
    by: timedelta
