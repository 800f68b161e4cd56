"""Repository of condition streaks and rollback runs."""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot.domain.triggers import Reading, Streak, Verdict
from bot.store.rollback_models import ConditionRow, RollbackRow


def condition(
    session: Session, rollout_id: int, kind: str, name: str, step_index: int
) -> ConditionRow | None:
    """The stored state of one trigger or criterion."""
    query = select(ConditionRow).where(
        ConditionRow.rollout_id == rollout_id,
        ConditionRow.kind == kind,
        ConditionRow.name == name,
        ConditionRow.step_index == step_index,
    )
    return session.exec(query).first()


def conditions(session: Session, rollout_id: int) -> list[ConditionRow]:
    """Every stored condition of a rollout."""
    query = select(ConditionRow).where(ConditionRow.rollout_id == rollout_id)
    return list(session.exec(query.order_by(col(ConditionRow.id))))


def reading(row: ConditionRow | None) -> Reading | None:
    """The domain's view of a stored condition."""
    if row is None:
        return None
    last = Verdict(row.last) if row.last else None
    return Reading(
        row.name, row.value, Streak(row.bad, row.good, last), row.evaluated_at, row.error
    )


def latest_rollback(session: Session, rollout_id: int) -> RollbackRow | None:
    """The newest rollback attempt of a rollout."""
    query = (
        select(RollbackRow)
        .where(RollbackRow.rollout_id == rollout_id)
        .order_by(col(RollbackRow.attempt).desc())
    )
    return session.exec(query).first()


def rollback_by_id(
    session: Session, rollback_id: int, for_update: bool = False
) -> RollbackRow | None:
    """One rollback run."""
    query = select(RollbackRow).where(RollbackRow.id == rollback_id)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()
