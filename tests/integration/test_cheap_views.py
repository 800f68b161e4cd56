"""Views stay cheap: a stored plan is validated once per content, and a list of cards reads
the sign-off chains of all its rollouts together, not once per rollout."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event

from bot.clock import ManualClock
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.domain.actor import Actor, Via
from bot.domain.plan import Plan, StoredPlans
from bot.services.chat import ChatPorts
from bot.services.rollouts.views import plan_of
from bot.services.signoff.ports import SignButton
from bot.shell.render import terminal_text
from bot.store import rollouts
from bot.store.types import content_key
from bot.wording import waiting_line
from tests.conftest import GATES, SHIPPED_ROLES, built

GATED = "\n" + SHIPPED_ROLES + GATES
ALICE = Actor("UALICE", Via.SLACK)
PLAN: dict[str, Any] = {
    "name": "tiny",
    "title": "Tiny",
    "phases": [{"id": "all", "name": "All", "steps": [{"name": "On", "percentage": 100}]}],
}


def test_a_stored_plan_is_validated_once_per_content(monkeypatch: pytest.MonkeyPatch) -> None:
    plans = StoredPlans(size=2)
    validated: list[str] = []
    real = Plan.model_validate

    def counting(data: Any, **kw: Any) -> Plan:
        validated.append(data["name"])
        return real(data, **kw)

    monkeypatch.setattr(Plan, "model_validate", counting)
    first = plans.get(dict(PLAN))
    # The same content (another copy of it) is the same plan.
    assert plans.get(json.loads(json.dumps(PLAN))) is first
    assert validated == ["tiny"]
    # Another content (the plan edited on disk) is validated afresh.
    edited = {**PLAN, "title": "Tiny, edited"}
    assert plans.get(edited).title == "Tiny, edited"
    assert first.title == "Tiny"
    assert len(validated) == 2
    # Only the newest contents are kept.
    plans.get({**PLAN, "name": "third"})
    assert len(plans) == 2
    plans.get(dict(PLAN))
    assert validated == ["tiny", "tiny", "third", "tiny"]
    # A key the store gives (a hash of the stored text) is used as it is.
    assert plans.get(edited, key=b"stored-text-hash") is not plans.get(edited)
    assert plans.get({}, key=b"stored-text-hash").title == "Tiny, edited"


def test_plans_read_from_the_database_carry_their_stored_texts_hash(make_bot: Rollbot) -> None:
    bot = make_bot
    bot.rollouts.start("feature-a", "realtime-features", ALICE)
    bot.rollouts.start("feature-b", "realtime-features", ALICE)
    with bot.db.read() as s:
        rows = rollouts.active(s)
    keys = {content_key(r.plan) for r in rows}
    assert len(keys) == 1 and None not in keys  # one content, one key
    assert plan_of(rows[0]) is plan_of(rows[1])


@pytest.fixture
def make_bot(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> Iterator[Rollbot]:
    with built(settings_factory(database_url, GATED), clock, ChatPorts.none()) as bot:
        yield bot


def _statements(bot: Rollbot, read: Callable[[], object]) -> tuple[int, object]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(bot.db.engine, "before_cursor_execute", count)
    try:
        result = read()
    finally:
        event.remove(bot.db.engine, "before_cursor_execute", count)
    return len(seen), result


def _cards_of_3_then_12(bot: Rollbot, prefix: str) -> tuple[tuple[int, object], tuple[int, object]]:
    """The statements and the cards of every active rollout with 3 rollouts started, then
    with 12."""
    for i in range(3):
        bot.rollouts.start(f"{prefix}-{i}", "realtime-features", ALICE)
    few = _statements(bot, bot.rollouts.active)
    for i in range(3, 12):
        bot.rollouts.start(f"{prefix}-{i}", "realtime-features", ALICE)
    return few, _statements(bot, bot.rollouts.active)


def test_the_list_of_cards_reads_every_chain_at_once(make_bot: Rollbot) -> None:
    bot = make_bot
    (few, views), (many, more) = _cards_of_3_then_12(bot, "feature")
    assert isinstance(views, list) and isinstance(more, list)
    assert len(views) == 3 and len(more) == 12
    # Every card still shows its chain and its first signer's button...
    for view in more:
        approve = [b for b in view.buttons if b.label.startswith("Approve as")]
        assert [SignButton.loads(b.value).role for b in approve] == ["eng_lead"]  # type: ignore[union-attr]
        assert any("Sign-off" in terminal_text(note) for note in view.notes)
    # ...and nine more rollouts cost no more statements.
    assert many == few, f"{few} statements for 3 rollouts, {many} for 12"


def test_with_metrics_watched_the_cards_still_cost_the_same_statements(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> None:
    metrics = "metrics:\n  provider: http_json\n  url: http://127.0.0.1:9/\n"
    bot = build(settings_factory(database_url, GATED + metrics), clock, ChatPorts.none())
    try:
        assert bot.watcher.enabled
        (few, _views), (many, more) = _cards_of_3_then_12(bot, "watched")
        assert isinstance(more, list) and len(more) == 12
        assert many == few, f"{few} statements for 3 rollouts, {many} for 12"
    finally:
        bot.db.dispose()


def test_rolled_back_cards_read_their_rollbacks_together(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> None:
    bot = build(settings_factory(database_url, ""), clock, ChatPorts.none(), sleep=lambda _s: None)

    def roll_back(flags: range) -> None:
        for n in flags:
            bot.rollouts.start(f"undone-{n}", None, ALICE)
            bot.rollback.roll_back(f"undone-{n}", ALICE, f"reason {n}")

    try:
        roll_back(range(2))
        few, views = _statements(bot, bot.rollouts.recent)
        roll_back(range(2, 8))
        many, more = _statements(bot, bot.rollouts.recent)
    finally:
        bot.db.dispose()
    assert isinstance(views, list) and isinstance(more, list) and len(more) == 8
    # Every card still says how its rollback went...
    for view in more:
        assert view.state == "rolled_back"
        note = waiting_line(view).plain()
        assert "rolled back" in note.lower() and "by @UALICE" in note, note
    # ...and six more rolled-back rollouts cost no more statements.
    assert many == few, f"{few} statements for 2 rolled-back rollouts, {many} for 8"
