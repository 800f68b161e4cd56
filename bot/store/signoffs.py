"""Repository of signatures, gate visits, sign-off requests and checklist results."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlmodel import Session, SQLModel, col, select

from bot.store.signoff_models import (
    ChecklistResultRow,
    GateVisitRow,
    SignatureRow,
    SignoffRequestRow,
)

# Where `preload` keeps what it read in a session's `info`, by rollout id.
_SIGNATURES = "rollbot.signoffs.signatures"
_RESULTS = "rollbot.signoffs.results"


def preload(session: Session, rollout_ids: Collection[int]) -> None:
    """Read the signatures and checklist results of many rollouts in one query each, so a
    list of cards does not ask once per rollout; `signatures` and `results` then answer
    from what was read for the rest of the session (until it writes one of them)."""
    ids = sorted(set(rollout_ids))
    if not ids:
        return
    found: dict[int, list[SignatureRow]] = {i: [] for i in ids}
    query = (
        select(SignatureRow)
        .where(col(SignatureRow.rollout_id).in_(ids))
        .order_by(col(SignatureRow.at), col(SignatureRow.id))
    )
    for row in session.exec(query):
        found[row.rollout_id].append(row)
    checked: dict[int, dict[tuple[str, int], ChecklistResultRow]] = {i: {} for i in ids}
    for r in session.exec(
        select(ChecklistResultRow).where(col(ChecklistResultRow.rollout_id).in_(ids))
    ):
        checked[r.rollout_id][(r.checklist_id, r.item_index)] = r
    session.info.setdefault(_SIGNATURES, {}).update(found)
    session.info.setdefault(_RESULTS, {}).update(checked)


def _forget_preloaded(session: Session) -> None:
    """A write in this session: what `preload` read may be out of date."""
    session.info.pop(_SIGNATURES, None)
    session.info.pop(_RESULTS, None)


def save(session: Session, row: SQLModel) -> None:
    """Write back a changed signature, gate visit, request or checklist result."""
    _forget_preloaded(session)
    session.add(row)


def visit_key(rollout_id: int, step_index: int, entered_at: datetime) -> str:
    """Identifies one visit of a step: the chain of a gate belongs to it."""
    return f"{rollout_id}:{step_index}:{int(entered_at.timestamp() * 1000)}"


def signatures(session: Session, rollout_id: int) -> list[SignatureRow]:
    """Every approval and rejection of a rollout, oldest first."""
    preloaded = session.info.get(_SIGNATURES, {}).get(rollout_id)
    if preloaded is not None:
        return list(preloaded)
    query = (
        select(SignatureRow)
        .where(SignatureRow.rollout_id == rollout_id)
        .order_by(col(SignatureRow.at), col(SignatureRow.id))
    )
    return list(session.exec(query))


def visit_signatures(
    session: Session, rollout_id: int, step_index: int, entered_at: datetime
) -> list[SignatureRow]:
    """The approvals and rejections of one visit of a step, oldest first."""
    return [
        r
        for r in signatures(session, rollout_id)
        if r.step_index == step_index and r.entered_at == entered_at
    ]


def add_signature(
    session: Session,
    *,
    rollout_id: int,
    step_index: int,
    entered_at: datetime,
    gate_id: str,
    role_id: str,
    user_id: str,
    via: str,
    decision: str,
    at: datetime,
    reason: str | None = None,
) -> SignatureRow:
    """Record an approval or a rejection of one visit of a step.

    An approval is unique per (visit, role) through its `approval_key`: a second approval
    of the same role fails with `IntegrityError` at flush, so two racing clicks sign once.
    Rejections carry no key (several may be on record for one role)."""
    approval_key = None
    if decision == "approved":
        approval_key = f"{visit_key(rollout_id, step_index, entered_at)}:{role_id}"
    row = SignatureRow(
        rollout_id=rollout_id,
        step_index=step_index,
        entered_at=entered_at,
        gate_id=gate_id,
        role_id=role_id,
        user_id=user_id,
        via=via,
        decision=decision,
        reason=reason,
        at=at,
        approval_key=approval_key,
    )
    _forget_preloaded(session)
    session.add(row)
    return row


def gate_visit_by_id(session: Session, visit_id: int) -> GateVisitRow | None:
    """A gate visit by its id."""
    return session.get(GateVisitRow, visit_id)


def open_gate_visit(
    session: Session,
    *,
    key: str,
    rollout_id: int,
    step_index: int,
    entered_at: datetime,
    gate_id: str,
    opened_at: datetime,
    timeout_at: datetime | None,
) -> GateVisitRow:
    """Record that a gate opened for a visit of its step."""
    row = GateVisitRow(
        visit_key=key,
        rollout_id=rollout_id,
        step_index=step_index,
        entered_at=entered_at,
        gate_id=gate_id,
        opened_at=opened_at,
        timeout_at=timeout_at,
    )
    _forget_preloaded(session)
    session.add(row)
    return row


def gate_visit(session: Session, key: str, for_update: bool = False) -> GateVisitRow | None:
    """The gate opened for a visit, if it was."""
    query = select(GateVisitRow).where(GateVisitRow.visit_key == key)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def gate_visits(session: Session, rollout_id: int) -> list[GateVisitRow]:
    """Every gate a rollout has opened, oldest first."""
    query = (
        select(GateVisitRow)
        .where(GateVisitRow.rollout_id == rollout_id)
        .order_by(col(GateVisitRow.id))
    )
    return list(session.exec(query))


def timed_out_candidates(session: Session, now: datetime) -> list[int]:
    """Ids of open gate visits whose timeout has passed."""
    query = (
        select(GateVisitRow.id)
        .where(col(GateVisitRow.closed_at).is_(None))
        .where(col(GateVisitRow.timed_out_at).is_(None))
        .where(col(GateVisitRow.passed_at).is_(None))
        .where(col(GateVisitRow.timeout_at).is_not(None))
        .where(col(GateVisitRow.timeout_at) <= now)
    )
    return [i for i in session.exec(query) if i is not None]


def open_requests(session: Session, rollout_id: int) -> list[SignoffRequestRow]:
    """Requests of a rollout that are still open."""
    query = (
        select(SignoffRequestRow)
        .where(SignoffRequestRow.rollout_id == rollout_id)
        .where(col(SignoffRequestRow.closed_at).is_(None))
        .order_by(col(SignoffRequestRow.id))
    )
    return list(session.exec(query))


def with_open_work(session: Session, rollout_ids: Collection[int]) -> set[int]:
    """Which of these rollouts have an open gate visit or an open request (two queries
    for any number of rollouts)."""
    ids = sorted(set(rollout_ids))
    if not ids:
        return set()
    visits = select(GateVisitRow.rollout_id).where(
        col(GateVisitRow.rollout_id).in_(ids), col(GateVisitRow.closed_at).is_(None)
    )
    asks = select(SignoffRequestRow.rollout_id).where(
        col(SignoffRequestRow.rollout_id).in_(ids), col(SignoffRequestRow.closed_at).is_(None)
    )
    return set(session.exec(visits.distinct())) | set(session.exec(asks.distinct()))


def rollouts_with_open_requests(session: Session) -> list[int]:
    """Ids of rollouts that still have open requests (to close those of finished ones)."""
    query = (
        select(SignoffRequestRow.rollout_id)
        .where(col(SignoffRequestRow.closed_at).is_(None))
        .distinct()
    )
    return list(session.exec(query))


def request(session: Session, key: str) -> SignoffRequestRow | None:
    """A request by its key."""
    return session.exec(
        select(SignoffRequestRow).where(SignoffRequestRow.request_key == key)
    ).first()


def add_request(
    session: Session,
    *,
    key: str,
    rollout_id: int,
    step_index: int,
    entered_at: datetime,
    gate_id: str,
    role_id: str,
    created_at: datetime,
) -> SignoffRequestRow:
    """A new request to one role, due to be asked at once."""
    row = SignoffRequestRow(
        request_key=key,
        rollout_id=rollout_id,
        step_index=step_index,
        entered_at=entered_at,
        gate_id=gate_id,
        role_id=role_id,
        created_at=created_at,
        next_at=created_at,
    )
    _forget_preloaded(session)
    session.add(row)
    return row


def request_by_id(
    session: Session, request_id: int, for_update: bool = False
) -> SignoffRequestRow | None:
    """A request by its id (locked for this transaction when `for_update`)."""
    return session.get(SignoffRequestRow, request_id, with_for_update=for_update or None)


def due_request_ids(session: Session, now: datetime) -> list[int]:
    """Open requests whose ask, reminder or escalation is due."""
    query = (
        select(SignoffRequestRow.id)
        .where(col(SignoffRequestRow.closed_at).is_(None))
        .where(col(SignoffRequestRow.next_at).is_not(None))
        .where(col(SignoffRequestRow.next_at) <= now)
        .order_by(col(SignoffRequestRow.next_at))
    )
    return [i for i in session.exec(query) if i is not None]


def claim_request(session: Session, request_id: int, skip_locked: bool) -> SignoffRequestRow | None:
    """Lock one request for this transaction; on PostgreSQL skip it if another replica has it."""
    query = select(SignoffRequestRow).where(SignoffRequestRow.id == request_id)
    query = query.with_for_update(skip_locked=True) if skip_locked else query.with_for_update()
    return session.exec(query).first()


def item_key(rollout_id: int, checklist_id: str, index: int) -> str:
    """Identifies one checklist item of a rollout."""
    return f"{rollout_id}:{checklist_id}:{index}"


def results(session: Session, rollout_id: int) -> dict[tuple[str, int], ChecklistResultRow]:
    """The checklist results of a rollout by (checklist id, item index)."""
    preloaded = session.info.get(_RESULTS, {}).get(rollout_id)
    if preloaded is not None:
        return dict(preloaded)
    query = select(ChecklistResultRow).where(ChecklistResultRow.rollout_id == rollout_id)
    return {(r.checklist_id, r.item_index): r for r in session.exec(query)}


def result(session: Session, key: str, for_update: bool = False) -> ChecklistResultRow | None:
    """One item's result by key."""
    query = select(ChecklistResultRow).where(ChecklistResultRow.item_key == key)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def add_result(
    session: Session,
    *,
    key: str,
    rollout_id: int,
    checklist_id: str,
    item_index: int,
    status: str,
    next_probe_at: datetime | None = None,
) -> ChecklistResultRow:
    """A new result row for one checklist item (open until checked or probed)."""
    row = ChecklistResultRow(
        item_key=key,
        rollout_id=rollout_id,
        checklist_id=checklist_id,
        item_index=item_index,
        status=status,
        next_probe_at=next_probe_at,
    )
    _forget_preloaded(session)
    session.add(row)
    return row


def result_by_id(
    session: Session, result_id: int, for_update: bool = False
) -> ChecklistResultRow | None:
    """A checklist result by its id (locked for this transaction when `for_update`)."""
    return session.get(ChecklistResultRow, result_id, with_for_update=for_update or None)


def due_probe_ids(session: Session, now: datetime) -> list[int]:
    """Results whose probe should run again."""
    query = (
        select(ChecklistResultRow.id)
        .where(col(ChecklistResultRow.next_probe_at).is_not(None))
        .where(col(ChecklistResultRow.next_probe_at) <= now)
        .where(ChecklistResultRow.manual == False)  # noqa: E712  (SQL comparison)
        .order_by(col(ChecklistResultRow.next_probe_at))
    )
    return [i for i in session.exec(query) if i is not None]


def claim_result(session: Session, result_id: int, skip_locked: bool) -> ChecklistResultRow | None:
    """Lock one checklist result for this transaction (skipping it if another replica has it)."""
    query = select(ChecklistResultRow).where(ChecklistResultRow.id == result_id)
    query = query.with_for_update(skip_locked=True) if skip_locked else query.with_for_update()
    return session.exec(query).first()


def open_requests_of(
    session: Session, rollout_ids: list[int]
) -> dict[int, list[SignoffRequestRow]]:
    """The open requests of each rollout, oldest first: one query, however many rollouts."""
    if not rollout_ids:
        return {}
    query = (
        select(SignoffRequestRow)
        .where(col(SignoffRequestRow.rollout_id).in_(rollout_ids))
        .where(col(SignoffRequestRow.closed_at).is_(None))
        .order_by(col(SignoffRequestRow.id))
    )
    found: dict[int, list[SignoffRequestRow]] = {i: [] for i in rollout_ids}
    for row in session.exec(query):
        found[row.rollout_id].append(row)
    return found
