"""Helpers for digest tests and the digest benchmark: a chat that records digests, and
seeding many rollouts and incidents straight into the store (as rollbot's own services
would leave them), so a digest can be built over thousands of rows quickly."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from bot.services.digests import Digest
from bot.store import rollouts as rollout_store
from bot.store.incident_models import IncidentRow, PostmortemRow
from bot.store.models import RolloutRow
from bot.store.rollback_models import TRIGGER_STEP, ConditionRow

ALICE = Actor("U0ALICE", Via.SLACK)


@dataclass
class RecordingDigestChat:
    """A `DigestChat` remembering what was posted where; `fail` makes it refuse."""

    posted: list[tuple[str, Digest]] = field(default_factory=list)
    fail: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post_digest(self, channel: str, digest: Digest) -> None:
        """Record the digest (or refuse, like a chat that is down)."""
        if self.fail:
            raise RuntimeError("chat is down")
        with self.lock:
            self.posted.append((channel, digest))


def seed(rollbot: Rollbot, rollouts: int, incidents: int, now: datetime) -> None:
    """`rollouts` active rollouts of the shipped plan (each with a trigger evaluation) and
    `incidents` incidents (a tenth of them open, the rest resolved with a post-mortem, half
    of those due within the day),
    written in a few transactions."""
    template = _template_row(rollbot)
    with rollbot.db.session() as s:
        rows = []
        for i in range(rollouts):
            row = RolloutRow(
                flag_key=f"seeded-{i}",
                active_flag_key=f"seeded-{i}",
                plan_name=template.plan_name,
                plan=copy.deepcopy(template.plan),
                state="running",
                step_index=1,
                percentage=5,
                step_started_at=now - timedelta(hours=1),
                step_due_at=now + timedelta(days=3),
                started_by=ALICE.id,
                started_at=now - timedelta(days=1),
                updated_at=now,
                version=1,
            )
            rows.append(row)
        s.add_all(rows)
        s.flush()
        s.add_all(
            ConditionRow(
                rollout_id=r.id or 0,
                kind="trigger",
                name="error-rate",
                step_index=TRIGGER_STEP,
                value=0.002,
                evaluated_at=now,
                last="good",
                good=3,
            )
            for r in rows
        )
    with rollbot.db.session() as s:
        made = []
        for i in range(incidents):
            open_ = i % 10 == 0
            made.append(
                IncidentRow(
                    key=f"inc-seeded-{i}",
                    title=f"Seeded incident {i}",
                    severity="sev2",
                    status="investigating" if open_ else "resolved",
                    state="active" if open_ else "resolved",
                    impact="major",
                    declared_by=ALICE.id,
                    declared_at=now - timedelta(hours=2),
                    resolved_at=None if open_ else now - timedelta(hours=1),
                    last_update_at=None if i % 20 == 0 else now - timedelta(minutes=10),
                    commander=ALICE.id,
                )
            )
        s.add_all(made)
        s.flush()
        # Half the post-mortems are due within the day (a digest lists them), half later.
        s.add_all(
            PostmortemRow(
                incident_id=inc.id or 0,
                markdown="# draft",
                rendered_at=now,
                due_at=now + timedelta(hours=12 if index % 2 else 47),
            )
            for index, inc in enumerate(made)
            if inc.state == "resolved"
        )


def _template_row(rollbot: Rollbot) -> RolloutRow:
    """A rollout of the shipped plan started the ordinary way (its plan is copied)."""
    rollbot.rollouts.start("template-flag", None, ALICE, channel_id="C1")
    with rollbot.db.session() as s:
        row = rollout_store.active_for_flag(s, "template-flag")
        assert row is not None
        return row
