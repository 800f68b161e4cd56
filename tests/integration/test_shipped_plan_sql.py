"""The shipped plan end to end with a simulated clock: from start through every gate to
Phase 4, the data backup taken before the first users, and Appendix B's success criteria
read from real tables in PostgreSQL before each automatic advance (a bad hour holds it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from bot.clock import ManualClock
from bot.config.settings import load_settings
from bot.container import Rollbot
from bot.domain.actions import Action
from bot.domain.actor import Actor, Via
from bot.services.signoff.feature import Signoffs
from bot.services.signoff.ports import CheckButton, SignButton
from bot.slack.mrkdwn import mrkdwn
from bot.wording import waiting_line
from tests.conftest import GATES, PLANS_DIR, SHIPPED_ROLES, built
from tests.sql_support import connections, documents, messages, realtime_db, scalar

__all__ = ["realtime_db"]

FLAG = "realtime-features"
ALICE = Actor("UALICE", Via.SLACK)
TICK = timedelta(seconds=15)
CONFIG = f"""
rollouts:
  plans_dir: {PLANS_DIR}
metrics:
  evaluation_seconds: 15
  sql:
    database: realtime
databases:
  realtime:
    url_env: REALTIME_DATABASE_URL
"""
CONFIG += SHIPPED_ROLES + GATES
SIGNERS = {
    "eng_lead": "UENG",
    "product_manager": "UPM",
    "security_lead": "USEC",
    "ops_lead": "UOPS",
    "cto": "UCTO",
}


@pytest.fixture
def bot(tmp_path: Path, clock: ManualClock, realtime_db: str) -> Iterator[Rollbot]:
    config = tmp_path / "rollbot.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path}/rollbot.db",
            "REALTIME_DATABASE_URL": realtime_db,
        },
        config_path=config,
    )
    with built(settings, clock) as rb:
        yield rb


def so(bot: Rollbot) -> Signoffs:
    assert bot.signoffs is not None
    return bot.signoffs


def sign_the_gate(bot: Rollbot, checklists: tuple[str, ...]) -> None:
    """Every role whose Approve button the card shows signs; the gate's checklists are
    checked by their owners."""
    while True:
        buttons = [
            SignButton.loads(b.value)
            for b in bot.rollouts.status(FLAG).buttons
            if b.action is Action.APPROVE
        ]
        pending = [b for b in buttons if b is not None]
        if not pending:
            break
        for button in pending:
            so(bot).service.approve(button, Actor(SIGNERS[button.role], Via.SLACK))
    view, states = so(bot).checklists.items(FLAG)
    for state in states:
        if state.checklist.id in checklists and not state.done:
            so(bot).checklists.check(
                CheckButton(view.id, state.checklist.id, state.index),
                Actor(SIGNERS[state.item.owner], Via.SLACK),
            )


def healthy_traffic(url: str) -> None:
    """The last hour's connections are fine; messages flow in the last minute."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM websocket_connections")
    connections(url, ok=2000, errors=4, latency_ms=35)
    messages(url, 300, ago="5 seconds")


def evaluate(bot: Rollbot, clock: ManualClock, times: int = 2) -> None:
    for _ in range(times):
        clock.advance(TICK)
        bot.watcher.evaluate()


def test_the_shipped_plan_from_start_to_phase_4_with_sql_criteria_from_real_tables(
    bot: Rollbot, clock: ManualClock, realtime_db: str
) -> None:
    documents(realtime_db, 40)
    bot.rollouts.start(FLAG, None, ALICE, "C1")
    sign_the_gate(bot, ("code-readiness", "infrastructure-readiness"))
    staff = bot.rollouts.advance(FLAG, ALICE).view
    assert (staff.percentage, staff.step_name) == (0, "Staff at 100% (internal segment)")
    flag = bot.flags.get(FLAG)
    assert flag is not None and flag.enabled and flag.segment_rollouts == {"internal": 100}
    # The data backup was taken just before the first users (staff) saw the feature.
    assert scalar(realtime_db, "SELECT COUNT(*) FROM realtime_backup") == 40

    percentages = [0]
    bakes = [timedelta(days=d) for d in (1, 3, 3, 2, 2)]
    for bake in bakes:
        clock.advance(bake)
        healthy_traffic(realtime_db)
        evaluate(bot, clock)
        (advanced,) = bot.rollouts.advance_due()
        percentages.append(advanced.view.percentage)
        if percentages[-1] == 50:
            # A bad hour in Phase 3: slow connections hold the next automatic advance.
            connections(realtime_db, ok=2000, errors=0, latency_ms=900)
            clock.advance(timedelta(days=2))
            messages(realtime_db, 300, ago="5 seconds")
            evaluate(bot, clock)
            assert bot.rollouts.advance_due() == []
            held = mrkdwn(waiting_line(bot.rollouts.status(FLAG)))
            assert "connection-latency-last-hour" in held and "needs &lt; 100 ms" in held, held
    assert percentages == [0, 5, 25, 50, 75, 100]
    view = bot.rollouts.status(FLAG)
    assert view.step_name.startswith("Day 5-7") and view.percentage == 100

    # Day 5-7 baked and healthy: the CTO's gate and the communication checklists remain.
    clock.advance(timedelta(days=3))
    healthy_traffic(realtime_db)
    evaluate(bot, clock)
    assert bot.rollouts.advance_due() == []
    sign_the_gate(bot, ("internal-communication", "external-communication"))
    (final,) = bot.rollouts.advance_due()
    assert final.view.phase_name == "Phase 4: Full Production"
    assert bot.rollouts.status(FLAG).state.value == "completed"
