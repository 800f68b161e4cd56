"""Repository of condition streaks and rollback runs."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from bot.domain.triggers import Reading, Streak, Verdict
from bot.store.rollback_models import (
    BASELINE,
    BASELINE_STEP,
    METRIC,
    TRIGGER_STEP,
    ConditionRow,
    RollbackRow,
)

# Where `preload_conditions` keeps what it read in a session's `info`, by rollout id.
_CONDITIONS = "rollbot.rollbacks.conditions"
_LATEST = "rollbot.rollbacks.latest"


def preload_conditions(session: Session, rollout_ids: Collection[int]) -> None:
    """Read the stored conditions of many rollouts in one query, so a list of cards (or a
    tick's holds) does not ask once per rollout; `condition`, `conditions` and
    `latest_evaluation` then answer from it for the rest of the session (until a new
    condition is added in it)."""
    ids = sorted(set(rollout_ids))
    if not ids:
        return
    found: dict[int, list[ConditionRow]] = {i: [] for i in ids}
    query = select(ConditionRow).where(col(ConditionRow.rollout_id).in_(ids))
    for row in session.exec(query.order_by(col(ConditionRow.id))):
        found[row.rollout_id].append(row)
    session.info.setdefault(_CONDITIONS, {}).update(found)


def _preloaded(session: Session, rollout_id: int) -> list[ConditionRow] | None:
    found: list[ConditionRow] | None = session.info.get(_CONDITIONS, {}).get(rollout_id)
    return found


def condition(
    session: Session, rollout_id: int, kind: str, name: str, step_index: int
) -> ConditionRow | None:
    """The stored state of one trigger or criterion."""
    preloaded = _preloaded(session, rollout_id)
    if preloaded is not None:
        return next(
            (
                r
                for r in preloaded
                if r.kind == kind and r.name == name and r.step_index == step_index
            ),
            None,
        )
    query = select(ConditionRow).where(
        ConditionRow.rollout_id == rollout_id,
        ConditionRow.kind == kind,
        ConditionRow.name == name,
        ConditionRow.step_index == step_index,
    )
    return session.exec(query).first()


def conditions(session: Session, rollout_id: int) -> list[ConditionRow]:
    """Every stored condition of a rollout."""
    preloaded = _preloaded(session, rollout_id)
    if preloaded is not None:
        return list(preloaded)
    query = select(ConditionRow).where(ConditionRow.rollout_id == rollout_id)
    return list(session.exec(query.order_by(col(ConditionRow.id))))


def latest_evaluation(session: Session, rollout_id: int, step_index: int) -> list[ConditionRow]:
    """The triggers and the step's criteria as the latest evaluation of the rollout left
    them (one evaluation writes them all at the same time)."""
    preloaded = _preloaded(session, rollout_id)
    if preloaded is not None:
        rows = [
            r
            for r in preloaded
            if r.step_index in (step_index, TRIGGER_STEP) and r.evaluated_at is not None
        ]
    else:
        query = (
            select(ConditionRow)
            .where(ConditionRow.rollout_id == rollout_id)
            .where(col(ConditionRow.step_index).in_([step_index, TRIGGER_STEP]))
            .where(col(ConditionRow.evaluated_at).is_not(None))
        )
        rows = list(session.exec(query))
    latest = max((r.evaluated_at for r in rows if r.evaluated_at), default=None)
    return [r for r in rows if r.evaluated_at == latest]


def baseline(session: Session, rollout_id: int, name: str) -> ConditionRow | None:
    """The stored baseline of a rollout's relative criterion or success metric `name`."""
    return condition(session, rollout_id, BASELINE, name, BASELINE_STEP)


def baselines(session: Session, rollout_id: int) -> dict[str, float | None]:
    """Name -> baseline value of every baseline measured for a rollout."""
    return {
        r.name: r.value
        for r in conditions(session, rollout_id)
        if r.kind == BASELINE and r.evaluated_at is not None and r.error is None
    }


def baseline_errors(session: Session, rollout_id: int) -> dict[str, str]:
    """Name -> why the latest measurement of a rollout's baseline failed (tried again)."""
    return {
        r.name: r.error for r in conditions(session, rollout_id) if r.kind == BASELINE and r.error
    }


def record_value(
    session: Session,
    rollout_id: int,
    kind: str,
    name: str,
    value: float | None,
    error: str | None,
    at: datetime,
) -> ConditionRow:
    """Store a baseline (kind BASELINE) or a success metric's latest value (kind METRIC). A
    baseline whose measurement failed (`error` set) is measured again later; one that
    answered, even with no data, is final."""
    row = condition(session, rollout_id, kind, name, BASELINE_STEP)
    if row is None:
        row = new_condition(session, rollout_id, kind, name, BASELINE_STEP)
    row.value, row.error, row.evaluated_at = value, error, at
    session.add(row)
    return row


def latest_values(session: Session, rollout_id: int) -> dict[str, float | None]:
    """Name -> the latest measured value of each criterion and relative success metric of a
    rollout (None when its latest measurement answered nothing or failed)."""
    latest: dict[str, ConditionRow] = {}
    for r in conditions(session, rollout_id):
        if r.kind not in ("criterion", METRIC) or r.evaluated_at is None:
            continue
        seen = latest.get(r.name)
        if seen is None or (seen.evaluated_at is not None and r.evaluated_at >= seen.evaluated_at):
            latest[r.name] = r
    return {name: (r.value if r.error is None else None) for name, r in latest.items()}


def latest_by_kind(session: Session, rollout_id: int) -> dict[tuple[str, str], float | None]:
    """(kind, name) -> the latest measured value of each trigger and criterion of a rollout
    (a trigger and a criterion may share a name; None when the latest measurement answered
    nothing or failed)."""
    latest: dict[tuple[str, str], ConditionRow] = {}
    for r in conditions(session, rollout_id):
        if r.kind not in ("trigger", "criterion") or r.evaluated_at is None:
            continue
        seen = latest.get((r.kind, r.name))
        if seen is None or (seen.evaluated_at is not None and r.evaluated_at >= seen.evaluated_at):
            latest[(r.kind, r.name)] = r
    return {key: (r.value if r.error is None else None) for key, r in latest.items()}


def reading(row: ConditionRow | None) -> Reading | None:
    """The domain's view of a stored condition."""
    if row is None:
        return None
    last = Verdict(row.last) if row.last else None
    return Reading(
        row.name, row.value, Streak(row.bad, row.good, last), row.evaluated_at, row.error
    )


def preload_latest_rollbacks(session: Session, rollout_ids: Collection[int]) -> None:
    """Read the newest rollback attempt of many rollouts in one query, so a list of
    rolled-back cards does not ask once per card; `latest_rollback` then answers from it for
    the rest of the session (until a rollback is added in it)."""
    ids = sorted(set(rollout_ids))
    if not ids:
        return
    found: dict[int, RollbackRow | None] = dict.fromkeys(ids)
    found.update(latest_rollbacks_of(session, ids))
    session.info.setdefault(_LATEST, {}).update(found)


def latest_rollback(session: Session, rollout_id: int) -> RollbackRow | None:
    """The newest rollback attempt of a rollout."""
    preloaded: dict[int, RollbackRow | None] = session.info.get(_LATEST, {})
    if rollout_id in preloaded:
        return preloaded[rollout_id]
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


def lease_expired(session: Session, now: datetime) -> list[tuple[int, int]]:
    """(rollback id, rollout id) of running rollbacks whose lease passed, oldest first."""
    query = (
        select(RollbackRow.id, RollbackRow.rollout_id)
        .where(RollbackRow.state == "running")
        .where(col(RollbackRow.lease_until).is_not(None))
        .where(col(RollbackRow.lease_until) <= now)
        .order_by(col(RollbackRow.lease_until))
    )
    return [(i, r) for i, r in session.exec(query) if i is not None]


def running(session: Session) -> list[tuple[int, int]]:
    """(rollback id, rollout id) of every rollback in the "running" state, oldest first: on
    PostgreSQL its run lock (run_locks.py) tells whether its runner is alive."""
    query = (
        select(RollbackRow.id, RollbackRow.rollout_id)
        .where(RollbackRow.state == "running")
        .order_by(col(RollbackRow.id))
    )
    return [(i, r) for i, r in session.exec(query) if i is not None]


def claim_rollback(session: Session, rollback_id: int) -> RollbackRow | None:
    """Lock one rollback row for this transaction; on PostgreSQL skip it if another replica
    has it (SQLite has one writer at a time anyway)."""
    query = select(RollbackRow).where(RollbackRow.id == rollback_id)
    return session.exec(query.with_for_update(skip_locked=True)).first()


def new_condition(
    session: Session, rollout_id: int, kind: str, name: str, step_index: int
) -> ConditionRow:
    """Add the stored state of a trigger or criterion seen for the first time."""
    row = ConditionRow(rollout_id=rollout_id, kind=kind, name=name, step_index=step_index)
    session.info.pop(_CONDITIONS, None)  # what was preloaded lacks it
    session.add(row)
    return row


def start_rollback(
    session: Session,
    *,
    rollout_id: int,
    flag_key: str,
    attempt: int,
    automatic: bool,
    actor: str,
    reason: str,
    trigger: dict[str, Any] | None,
    started_at: datetime,
    lease_until: datetime,
    runbook: str | None = None,
) -> RollbackRow:
    """Add a running rollback attempt and flush it, so it has its id. `runbook` names the
    plan's runbook it runs when not the full one (kept with what started it, in `trigger`)."""
    if runbook is not None:
        trigger = {**(trigger or {}), "runbook": runbook}
    row = RollbackRow(
        rollout_id=rollout_id,
        flag_key=flag_key,
        attempt=attempt,
        automatic=automatic,
        actor=actor,
        reason=reason,
        trigger=trigger,
        state="running",
        started_at=started_at,
        lease_until=lease_until,
    )
    session.add(row)
    session.flush()
    session.info.pop(_LATEST, None)  # what was preloaded is no longer the newest
    return row


def runbook_of(row: RollbackRow, default: str) -> str:
    """The name of the runbook a rollback runs (`default`, the full one, when unnamed)."""
    name = (row.trigger or {}).get("runbook")
    return name if isinstance(name, str) and name else default


def trigger_conditions_of(
    session: Session, rollout_ids: list[int]
) -> dict[int, list[ConditionRow]]:
    """The stored trigger observations (latest value, streak) of each rollout: one query,
    however many rollouts."""
    if not rollout_ids:
        return {}
    query = (
        select(ConditionRow)
        .where(col(ConditionRow.rollout_id).in_(rollout_ids))
        .where(ConditionRow.step_index == TRIGGER_STEP)
        .order_by(col(ConditionRow.id))
    )
    found: dict[int, list[ConditionRow]] = {i: [] for i in rollout_ids}
    for row in session.exec(query):
        found[row.rollout_id].append(row)
    return found


def latest_rollbacks_of(session: Session, rollout_ids: list[int]) -> dict[int, RollbackRow]:
    """The newest rollback attempt of each rollout that has one, in one query."""
    if not rollout_ids:
        return {}
    newest = (
        select(func.max(col(RollbackRow.id)))
        .where(col(RollbackRow.rollout_id).in_(rollout_ids))
        .group_by(col(RollbackRow.rollout_id))
    )
    query = select(RollbackRow).where(col(RollbackRow.id).in_(newest))
    return {row.rollout_id: row for row in session.exec(query)}
