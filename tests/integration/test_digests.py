"""Scheduled digests on SQLite and PostgreSQL: slots posted once (two services on one
database, restarts across a slot, a new database), what a digest says, its statement count,
and a metrics provider that is down."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from bot.clock import ManualClock
from bot.config.settings import Settings
from bot.container import Rollbot, build
from bot.services.chat import ChatPorts
from bot.services.digests.digest import QUIET, ScoreVerdict
from bot.shell.digest import DigestText
from bot.store import digests as digest_store
from bot.wording import words
from tests.conftest import built
from tests.digest_support import ALICE, RecordingDigestChat, seed

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = REPO_ROOT / "templates"
# Weekdays at 09:00 in Berlin (CET in December: 08:00 UTC).
DAILY = (
    "digests:\n"
    "  - name: daily\n"
    "    channel: C_DIGEST\n"
    '    cron: "0 9 * * MON-FRI"\n'
    "    timezone: Europe/Berlin\n"
)
# Monday 2026-12-07, 07:00 UTC (08:00 in Berlin): an hour before the slot.
MONDAY_EARLY = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
MONDAY_SLOT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.fixture
def digest_settings(settings_factory: Callable[..., Settings], database_url: str) -> Settings:
    return settings_factory(database_url, DAILY)


class Replicas:
    """rollbots built on one database (replicas, or one process before and after a
    restart), each with its own recording chat."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.built: list[tuple[Rollbot, RecordingDigestChat]] = []

    def start(self, clock: ManualClock, **kwargs: object) -> tuple[Rollbot, RecordingDigestChat]:
        chat = RecordingDigestChat()
        bot = build(self.settings, clock, ChatPorts(**{**_none_ports(), "digests": chat}), **kwargs)  # type: ignore[arg-type]
        self.built.append((bot, chat))
        return bot, chat

    def posted(self) -> list[tuple[str, object]]:
        return [p for _, chat in self.built for p in chat.posted]

    def close(self) -> None:
        for bot, _ in self.built:
            bot.db.dispose()


def _none_ports() -> dict[str, object]:
    none = ChatPorts.none()
    return {"rollouts": none.rollouts, "signoffs": none.signoffs, "incidents": none.incidents}


@pytest.fixture
def replicas(digest_settings: Settings) -> Iterator[Replicas]:
    made = Replicas(digest_settings)
    try:
        yield made
    finally:
        made.close()


def test_a_new_database_has_no_missed_slots(replicas: Replicas) -> None:
    # Started long after Monday's slot: nothing is "missed" before the digest existed.
    clock = ManualClock(MONDAY_SLOT + timedelta(hours=5))
    bot, chat = replicas.start(clock)
    assert bot.digests is not None
    assert bot.digests.run_due() == []
    assert chat.posted == []
    # The next slot (Tuesday 09:00 Berlin) is posted, on time.
    clock.advance(timedelta(hours=19, seconds=10))
    posted = bot.digests.run_due()
    assert [(p.digest, p.slot_at, p.late) for p in posted] == [
        ("daily", MONDAY_SLOT + timedelta(days=1), False)
    ]
    assert [c for c, _ in chat.posted] == ["C_DIGEST"]
    assert bot.digests.posted_counts() == {"daily": 1}
    # rollbot's own metrics count it (users' alerts watch this name).
    assert 'rollbot_digests_posted_total{digest="daily"} 1.0' in bot.telemetry.render().decode()


def test_a_slot_is_posted_once_and_on_time(replicas: Replicas) -> None:
    clock = ManualClock(MONDAY_EARLY)
    bot, chat = replicas.start(clock)
    assert bot.digests is not None
    bot.digests.run_due()  # first seen: baseline
    clock.advance(timedelta(minutes=59))
    assert bot.digests.run_due() == []  # 08:59 Berlin: not yet
    clock.advance(timedelta(minutes=1, seconds=5))
    assert len(bot.digests.run_due()) == 1
    for _ in range(3):
        clock.advance(timedelta(seconds=15))
        assert bot.digests.run_due() == []
    ((channel, digest),) = chat.posted
    assert channel == "C_DIGEST" and digest.slot_at == MONDAY_SLOT and not digest.late
    assert digest.quiet
    text = DigestText(TEMPLATES).render(digest)
    assert QUIET in text and "Posted late" not in text


def test_a_restart_across_a_slot_posts_it_late_once(replicas: Replicas) -> None:
    clock = ManualClock(MONDAY_EARLY)
    first, _ = replicas.start(clock)
    assert first.digests is not None
    first.digests.run_due()
    first.db.dispose()
    # Down from Monday 08:00 to Thursday 11:30 Berlin: Monday to Thursday's slots missed.
    clock.advance(timedelta(days=3, hours=3, minutes=30))
    second, chat = replicas.start(clock)
    assert second.digests is not None
    posted = second.digests.run_due()
    thursday = MONDAY_SLOT + timedelta(days=3)
    assert [(p.slot_at, p.late) for p in posted] == [(thursday, True)]  # the latest only
    assert second.digests.run_due() == []
    ((_, digest),) = chat.posted
    assert digest.late and digest.slot_at == thursday
    text = DigestText(TEMPLATES).render(digest)
    assert "Posted late" in text and "Thu 2026-12-10 09:00 CET" in text
    # Restarted again the same day: the late slot is not posted a second time.
    third, again = replicas.start(clock)
    assert third.digests is not None
    assert third.digests.run_due() == [] and again.posted == []
    assert third.digests.posted_counts() == {"daily": 1}


def test_two_services_on_one_database_post_a_slot_once(replicas: Replicas) -> None:
    clock = ManualClock(MONDAY_EARLY)
    a, _ = replicas.start(clock)
    b, _ = replicas.start(clock)
    assert a.digests is not None and b.digests is not None
    a.digests.run_due()
    clock.advance(timedelta(hours=1, seconds=3))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def tick(bot: Rollbot) -> None:
        try:
            barrier.wait(timeout=10)
            assert bot.digests is not None
            for _ in range(3):
                bot.digests.run_due()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=tick, args=(bot,)) for bot in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(replicas.posted()) == 1
    with a.db.session() as s:
        rows = digest_store.posted_slots(s, "daily")
    assert [r.slot_at for r in rows] == [MONDAY_SLOT]


def test_a_digest_the_chat_refused_is_retried_from_the_outbox(replicas: Replicas) -> None:
    clock = ManualClock(MONDAY_EARLY)
    bot, chat = replicas.start(clock)
    assert bot.digests is not None
    bot.digests.run_due()
    clock.advance(timedelta(hours=1, seconds=1))
    chat.fail = True
    (posted,) = bot.digests.run_due()
    assert not posted.delivered and chat.posted == []
    clock.advance(timedelta(seconds=2))
    bot.digests.run_due()
    assert chat.posted == []  # the retry waits for the outbox's backoff (5 s)
    chat.fail = False
    clock.advance(timedelta(seconds=15))
    bot.digests.run_due()
    assert [d.slot_at for _, d in chat.posted] == [MONDAY_SLOT]
    clock.advance(timedelta(minutes=10))
    bot.digests.run_due()
    assert len(chat.posted) == 1


def test_a_digest_lists_rollouts_signoffs_incidents_and_postmortems(
    settings_factory: Callable[..., Settings], database_url: str
) -> None:
    roles = (
        "roles:\n"
        "  eng_lead: {name: Engineering Lead, members: [U0ENG]}\n"
        "  product_manager: {name: Product Manager, members: [U0PM]}\n"
        "  security_lead: {name: Security Lead, members: [U0SEC]}\n"
        "  ops_lead: {name: Operations Lead, members: [U0OPS]}\n"
        "  cto: {name: CTO, members: [U0CTO]}\n"
        "signoff:\n  enforce_gates: true\n"
    )
    settings = settings_factory(database_url, DAILY + roles)
    clock = ManualClock(MONDAY_EARLY)
    bot = build(settings, clock)
    try:
        assert bot.digests is not None
        bot.rollouts.start("realtime-features", None, ALICE, channel_id="C1")
        assert bot.signoffs is not None
        bot.signoffs.requests.tick()
        from bot.domain.incident import Severity

        bot.incidents.declare(Severity.SEV1, "Chat <!channel> down", ALICE)
        clock.advance(timedelta(minutes=7))
        digest = bot.digests.show("daily")
        (rollout,) = digest.rollouts
        assert rollout.flag_key == "realtime-features" and rollout.percentage == 0
        assert any("Approval Chain" in h for h in rollout.holds)
        assert any("checklist" in h for h in rollout.holds)
        assert {t.name for t in rollout.triggers} >= {"error-rate", "p95-latency"}
        assert [s.verdict for s in rollout.scorecard] == [ScoreVerdict.NO_DATA] * 11
        (signoff,) = digest.signoffs
        assert signoff.role_name == "Engineering Lead" and signoff.holders == ("U0ENG",)
        assert signoff.waiting == timedelta(minutes=7)
        (incident,) = digest.incidents
        assert incident.severity == "sev1" and incident.first_update_late
        text = DigestText(TEMPLATES).render(digest)
        assert "First status update late" in text and "Chat <!channel> down" in text
    finally:
        bot.db.dispose()


class _Metrics:
    name = "fake"

    def __init__(self, values: dict[str, float | None]) -> None:
        self.values = values
        self.asked: list[str] = []

    def query(self, expr: str) -> float | None:
        self.asked.append(expr)
        for key, value in self.values.items():
            if key in expr:
                return value
        return None


def test_the_scorecard_marks_met_missed_and_no_data(
    settings_factory: Callable[..., Settings], database_url: str
) -> None:
    settings = settings_factory(
        database_url, DAILY + "metrics:\n  provider: prometheus\n  url: http://127.0.0.1:9\n"
    )
    metrics = _Metrics(
        {
            "websocket_connections_total": 0.995,  # > 99%: met
            "websocket_messages_delivered_total": 0.99,  # < 99.9%: missed
            "histogram_quantile(0.5,": 0.02,  # p50 20 ms: met
            "histogram_quantile(0.95, sum by (le) (rate(websocket": 0.2,  # p95 200 ms: missed
        }
    )
    clock = ManualClock(MONDAY_EARLY)
    bot = build(settings, clock, metrics=metrics)
    try:
        assert bot.digests is not None
        bot.rollouts.start("realtime-features", None, ALICE)
        bot.rollouts.start("other-flag", "realtime-features", ALICE)
        digest = bot.digests.show()
        verdicts = {s.name: s.verdict for s in digest.rollouts[0].scorecard}
        assert verdicts == {
            "connection-success": ScoreVerdict.MET,
            "message-delivery": ScoreVerdict.MISSED,
            "latency-p50": ScoreVerdict.MET,
            "latency-p95": ScoreVerdict.MISSED,
            "reconnection-success": ScoreVerdict.NO_DATA,
            "error-rate": ScoreVerdict.NO_DATA,
            # The business metrics: the relative ones have no baseline (nothing measured it).
            "user-engagement": ScoreVerdict.NO_DATA,
            "session-duration": ScoreVerdict.NO_DATA,
            "support-tickets": ScoreVerdict.NO_DATA,
            "feature-adoption": ScoreVerdict.NO_DATA,
            "user-satisfaction": ScoreVerdict.NO_DATA,
        }
        # Two rollouts of one plan: each distinct query asked once.
        assert len(metrics.asked) == len(set(metrics.asked)) == 11
    finally:
        bot.db.dispose()


def test_a_metrics_provider_that_is_down_makes_the_scorecard_say_no_data(
    settings_factory: Callable[..., Settings], database_url: str
) -> None:
    # A real Prometheus provider pointed at a port nobody listens on.
    settings = settings_factory(
        database_url,
        DAILY + "metrics:\n  provider: prometheus\n  url: http://127.0.0.1:9\n  timeout: 1s\n",
    )
    clock = ManualClock(MONDAY_EARLY)
    bot = build(settings, clock)
    try:
        assert bot.digests is not None
        bot.rollouts.start("realtime-features", None, ALICE)
        bot.digests.run_due()
        clock.advance(timedelta(hours=1, seconds=1))
        digest = bot.digests.show("daily")
        scores = digest.rollouts[0].scorecard
        assert [s.verdict for s in scores] == [ScoreVerdict.NO_DATA] * 11
        assert all(s.why and "unreachable" in s.why for s in scores)
        text = DigestText(TEMPLATES).render(digest)
        assert "no data" in text and "Traceback" not in text
    finally:
        bot.db.dispose()


def _statements(bot: Rollbot) -> int:
    count = 0

    def counted(*_: object) -> None:
        nonlocal count
        count += 1

    event.listen(bot.db.engine, "before_cursor_execute", counted)
    try:
        assert bot.digests is not None
        digest = bot.digests.show()
    finally:
        event.remove(bot.db.engine, "before_cursor_execute", counted)
    assert digest.rollouts  # the digest did read them
    return count


def test_building_a_digest_takes_the_same_statements_at_10_and_1000_rollouts(
    settings_factory: Callable[..., Settings], database_url: str, tmp_path: Path
) -> None:
    counts = []
    for n in (10, 1000):
        url = database_url
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / f'count-{n}.db'}"
        settings = settings_factory(url, DAILY)
        clock = ManualClock(MONDAY_EARLY)
        bot = build(settings, clock)
        try:
            if n == 1000 and not database_url.startswith("sqlite"):
                _clear(bot)
            seed(bot, n, n, clock.now())
            digest = bot.digests.show() if bot.digests else None
            assert digest is not None and len(digest.rollouts) == n + 1
            assert len(digest.incidents) == n // 10
            counts.append(_statements(bot))
        finally:
            bot.db.dispose()
    assert counts[0] == counts[1], counts


def _clear(bot: Rollbot) -> None:
    """Empty the (shared PostgreSQL) database's rollouts and incidents between runs."""
    from sqlalchemy import text

    with bot.db.engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE metric_condition, incident_postmortem, incident, rollout, flag, "
                "audit_event, outbox RESTART IDENTITY CASCADE"
            )
        )


def _complete(bot: Rollbot, clock: ManualClock) -> None:
    """Run the shipped plan to full production."""
    bot.rollouts.start("realtime-features", None, ALICE)
    while bot.rollouts.status("realtime-features").state.value == "running":
        clock.advance(timedelta(minutes=1))
        bot.rollouts.advance("realtime-features", ALICE)


def test_post_migration_tasks_past_their_due_date_are_listed(
    settings_factory: Callable[..., Settings], database_url: str
) -> None:
    settings = settings_factory(database_url, DAILY)
    clock = ManualClock(MONDAY_EARLY)
    bot = build(settings, clock)
    try:
        assert bot.digests is not None
        _complete(bot, clock)
        assert bot.digests.show().overdue_items == ()
        # Week 1 after migration: its tasks are due 7 days after full production.
        clock.advance(timedelta(days=7, hours=1))
        overdue = bot.digests.show().overdue_items
        texts = {o.text for o in overdue}
        assert "Team retrospective" in texts
        assert "Capacity planning" not in texts  # due after 28 days
        assert all(o.flag_key == "realtime-features" for o in overdue)
        text = DigestText(TEMPLATES).render(bot.digests.show())
        assert "Checklist items overdue" in text and "Team retrospective" in text
    finally:
        bot.db.dispose()


def test_the_digest_lists_the_overdue_tasks_the_card_counts(
    settings_factory: Callable[..., Settings], database_url: str
) -> None:
    """The digest and the rollout's card ask the same question of the same rows: at the
    moment the week-1 tasks fall due, both call them overdue, oldest due first."""
    clock = ManualClock(MONDAY_EARLY)
    with built(settings_factory(database_url, DAILY), clock) as bot:
        assert bot.digests is not None
        _complete(bot, clock)
        clock.advance(timedelta(days=7))  # exactly a week after full production
        overdue = bot.digests.show().overdue_items
        assert "Team retrospective" in {o.text for o in overdue}
        assert [o.due_at for o in overdue] == sorted(o.due_at for o in overdue)
        notes = bot.rollouts.status("realtime-features").notes
        card = "\n".join(n if isinstance(n, str) else words(n).plain() for n in notes)
        assert f"{len(overdue)} post-migration task(s) overdue" in card
