"""The plan's data backup, taken before the first user sees the feature.

The reference plan's data-migration rollback starts with `CREATE TABLE realtime_backup AS
SELECT * FROM realtime_data`; its restore (drop and rename back) is a step of the runbook. A
plan declares the backup as an sql step under `backup:`, and `DataBackup` runs it as an
`AdvanceHold`: when a rollout at 0% is about to show the feature to users (advanced to the
first step above 0%, or set above 0% by hand), the backup runs first, and a failed backup
holds the rollout where it is (nothing is changed; the reason says why). A database the
config declares without a URL here skips it, saying so in the thread; one the config does
not have at all is reported by `config check` and at start, and logged. Its `skip_if` guard
makes a second run (a retried advance, a restart) a reported no-op. What it did goes to the
audit table with the change and to the rollout's thread once the change is announced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from bot.domain.actor import SCHEDULER
from bot.domain.message import Message, Strong
from bot.domain.plan import Plan
from bot.domain.rollout import RolloutSnapshot
from bot.domain.secrets import OWN_SECRETS
from bot.providers.databases import Databases
from bot.providers.metrics.base import NoMetrics
from bot.providers.runbook.base import RunContext
from bot.providers.runbook.engine import run_one
from bot.services.rollback.events import BackupNotTaken, BackupTaken
from bot.services.rollouts.context import Outcome
from bot.services.rollouts.holds import HoldQuery
from bot.services.rollouts.service import RolloutService
from bot.store import audit

log = logging.getLogger(__name__)


def backup_due(plan: Plan, snapshot: RolloutSnapshot) -> bool:
    """True when leaving this step may show the feature to the first users: the rollout is
    at 0% before the first step above 0%."""
    first = plan.first_exposed_index()
    return (
        plan.backup is not None
        and first is not None
        and snapshot.percentage == 0
        and snapshot.step_index < first
    )


class DataBackup:
    """Runs the plan's `backup:` before the first user sees the feature (an AdvanceHold)."""

    def __init__(
        self,
        rollouts: RolloutService,
        databases: Databases,
        env: Mapping[str, str],
        secret_names: frozenset[str] = OWN_SECRETS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rollouts = rollouts
        self.databases = databases
        self.env = env
        self.secret_names = secret_names
        self.sleep = sleep
        # Reports waiting for their change to be announced, by rollout id (only between
        # the hold and the announcement of the same change; the audit table keeps them).
        self._pending: dict[int, BackupTaken | BackupNotTaken] = {}

    def hold(self, query: HoldQuery) -> Message | None:
        """Run the backup when it is due; its failure is the reason the step is held."""
        session, row, plan, at = query.session, query.row, query.plan, query.at
        if plan.backup is None or not backup_due(plan, query.snapshot):
            return None
        assert row.id is not None
        if plan.backup.database not in self.databases:
            # The config does not have this database at all: `config check` and every start
            # say so for the plan; here it is logged, and the rollout goes on.
            log.warning(
                "rollout %s: the backup %r was not taken: the config has no database %r",
                row.flag_key,
                plan.backup.name,
                plan.backup.database,
            )
            return None
        if plan.backup.database not in self.databases.available:
            # Configured, but its URL variable is unset here (`config check` warns): said
            # loudly in the thread, and it does not stop the rollout.
            self._pending[row.id] = BackupNotTaken(plan.backup.name, plan.backup.database)
            return None
        ctx = RunContext(
            flag_key=row.flag_key,
            rollout_id=row.id,
            reason="backup before the first users see the feature",
            actor=SCHEDULER,
            flags=self.rollouts.flags,
            metrics=NoMetrics(),
            env=self.env,
            sleep=self.sleep,
            private=self.secret_names,
            databases=self.databases,
        )
        result = run_one(plan.backup, ctx)
        audit.record(
            session,
            actor=SCHEDULER,
            at=at,
            action="rollout.backup" if result.ok else "rollout.backup_failed",
            subject_type="rollout",
            subject_id=row.flag_key,
            after=result.as_dict(),
        )
        if result.ok:
            self._pending[row.id] = BackupTaken(result.name, result.output)
            return None
        return Message(
            "the data backup ",
            Strong(result.name),
            f" failed ({result.error}); it runs before the first users see the feature",
        )

    def after_change(self, outcome: Outcome) -> None:
        """Post what the backup did in the rollout's thread, after the change it preceded."""
        message = self._pending.pop(outcome.view.id, None)
        if message is not None:
            self.rollouts.post(outcome.view.id, message)
