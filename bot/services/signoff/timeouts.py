"""Gate timeouts: a gate that waited past its `timeout` pauses the rollout (it never
advances it) and tells its owner. Each timed-out visit is claimed under the rollout's row
lock, so it pauses once however many replicas run the tick."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from bot.domain import rollout as machine
from bot.domain.actor import SCHEDULER
from bot.domain.rollout import RolloutState
from bot.services.rollouts.reading import Outcome
from bot.services.rollouts.views import plan_of
from bot.services.signoff.chain import gate_of
from bot.services.signoff.context import SignoffContext
from bot.services.signoff.events import GateTimedOut, TimeoutTold
from bot.store import audit, rollouts, signoffs

log = logging.getLogger(__name__)


class GateTimeouts:
    """Pauses rollouts whose gate timed out."""

    def __init__(self, context: SignoffContext) -> None:
        self.context = context
        self.db = context.db
        self.clock = context.clock

    def time_out(self) -> int:
        """Pause rollouts whose gate waited past its timeout (never advance them)."""
        now = self.clock.now()
        with self.db.session() as s:
            candidates = signoffs.timed_out_candidates(s, now)
        done = 0
        for visit_id in candidates:
            found = self._time_out_one(visit_id, now)
            if found is None:
                continue
            outcome, requester, timed_out = found
            self.context.rollouts.announce(outcome)
            try:
                self.context.notifier.tell(requester, TimeoutTold(timed_out))
            except Exception:
                log.exception("could not tell %s about the gate timeout", requester)
            done += 1
        return done

    def _time_out_one(
        self, visit_id: int, now: datetime
    ) -> tuple[Outcome, str, GateTimedOut] | None:
        with self.db.session() as s:
            probe = signoffs.gate_visit_by_id(s, visit_id)
            if probe is None:
                return None
            # The rollout row first, as every other change does, so locks never cross.
            row = rollouts.claim(s, probe.rollout_id, skip_locked=self.db.is_postgres)
            if row is None:
                return None
            visit = signoffs.gate_visit(s, probe.visit_key, for_update=True)
            if visit is None or visit.timed_out_at or visit.passed_at or visit.closed_at:
                return None
            visit.timed_out_at = now
            signoffs.save(s, visit)
            plan = plan_of(row)
            gate = gate_of(plan, visit.step_index)
            title = gate.title if gate else visit.gate_id
            waited = now - visit.opened_at
            audit.record(
                s,
                actor=SCHEDULER,
                at=now,
                action="signoff.timed_out",
                subject_type="rollout",
                subject_id=row.flag_key,
                after={"gate": visit.gate_id, "step": visit.step_index},
            )
            event = GateTimedOut(title, waited)
            if row.state == RolloutState.RUNNING.value:
                changed = self.context.rollouts.change_locked(
                    s,
                    row,
                    "rollout.paused",
                    lambda _p, snap, at: machine.pause(snap, at),
                    SCHEDULER,
                    now,
                )
                owned = replace(event, owner=row.started_by)
                return Outcome(changed.view, owned), row.started_by, owned
            view = self.context.rollouts.view_of(s, row, now)
            return Outcome(view, event), row.started_by, event
