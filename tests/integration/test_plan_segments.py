"""Per-segment rollouts in plans (the seed's Phase 2: staff at 100%, then 5% of everyone),
shown on the card and in `/rollout status`; `monitoring_enabled: false` leaves a flag's
triggers unevaluated and the card says so."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.clock import ManualClock
from bot.domain.actor import Actor, Via
from bot.domain.flag import FlagChange
from bot.domain.rollout import RolloutState
from bot.shell.text import text
from bot.wording import words
from tests.fakes.metrics import FakeMetrics
from tests.flag_sdk_support import SEGMENTS_YAML
from tests.plan_support import GA, phase, plan_yaml, step
from tests.rollback_support import ERRORS, FLAG, PLAN, build_rollbot
from tests.test_cli import run

ALICE = Actor("U0ALICE", Via.SLACK)
STAFF_FIRST = PLAN.replace(
    """    steps:
      - name: five
        percentage: 5""",
    """    steps:
      - name: staff
        percentage: 0
        segments: {internal: 100}
      - name: five
        percentage: 5
        segments: {beta: 25}""",
)


def notes(view: object) -> str:
    return "\n".join(
        n if isinstance(n, str) else text(words(n)) for n in getattr(view, "notes", ())
    )


def test_staff_first_then_five_percent_of_everyone(tmp_path: Path) -> None:
    clock = ManualClock()
    rb = build_rollbot(
        tmp_path, f"sqlite:///{tmp_path}/r.db", clock, None, STAFF_FIRST, SEGMENTS_YAML
    )
    try:
        rb.rollouts.start(FLAG, None, ALICE)
        doc = rb.flags.get(FLAG)
        assert doc is not None
        assert (doc.enabled, doc.rollout_percentage, doc.segment_rollouts) == (
            True,
            0,
            {"internal": 100},
        )
        staff = rb.flag_api.evaluate(FLAG, "ada", [], {"email": "ada@example.com"})
        outsider = rb.flag_api.evaluate(FLAG, "bob", [], {"email": "bob@else.org"})
        assert staff is not None and staff.enabled and staff.segment == "internal"
        assert outsider is not None and not outsider.enabled
        assert "Segments: internal 100%; everyone else 0%" in notes(rb.rollouts.status(FLAG))

        clock.advance(timedelta(hours=2))
        rb.rollouts.advance(FLAG, ALICE)
        doc = rb.flags.get(FLAG)
        assert doc is not None
        # Staff stay at 100% (earlier steps' segments carry on), beta joins at 25%.
        assert (doc.rollout_percentage, doc.segment_rollouts) == (5, {"internal": 100, "beta": 25})
        status = notes(rb.rollouts.status(FLAG))
        assert "Segments: beta 25%, internal 100%; everyone else 5%" in status

        # A rollback turns the segments off with the flag: nobody keeps the feature.
        rb.rollback.roll_back(FLAG, ALICE, "test")
        doc = rb.flags.get(FLAG)
        assert doc is not None and not doc.enabled
        staff = rb.flag_api.evaluate(FLAG, "ada", [], {"email": "ada@example.com"})
        assert staff is not None and not staff.enabled
    finally:
        rb.db.dispose()


STAFF_LATER = plan_yaml(
    [
        phase(
            "beta",
            "Beta",
            [
                step("five", 5, "1h"),
                step("five and staff", 5, segments="{internal: 100}", bake="1h"),
            ],
        ),
        GA,
    ],
    name="staff-later",
    title="Staff later",
    flag=FLAG,
)


def test_a_scheduled_advance_to_a_step_that_changes_only_segments_sets_them(
    tmp_path: Path,
) -> None:
    """The scheduler's tick (the built-in store's batched path) sets the new step's segments
    even when the percentage for everyone stays the same."""
    clock = ManualClock()
    rb = build_rollbot(
        tmp_path, f"sqlite:///{tmp_path}/r.db", clock, None, STAFF_LATER, SEGMENTS_YAML
    )
    try:
        rb.rollouts.start(FLAG, None, ALICE)
        clock.advance(timedelta(hours=1, seconds=1))
        (done,) = rb.rollouts.advance_due()
        assert (done.view.step_name, done.view.percentage) == ("five and staff", 5)
        doc = rb.flags.get(FLAG)
        assert doc is not None
        assert (doc.rollout_percentage, doc.segment_rollouts) == (5, {"internal": 100})
        staff = rb.flag_api.evaluate(FLAG, "ada", [], {"email": "ada@example.com"})
        assert staff is not None and staff.enabled and staff.segment == "internal"
    finally:
        rb.db.dispose()


def test_monitoring_off_leaves_triggers_unevaluated(tmp_path: Path) -> None:
    metrics = FakeMetrics()
    clock = ManualClock()
    rb = build_rollbot(tmp_path, f"sqlite:///{tmp_path}/r.db", clock, metrics)
    try:
        rb.rollouts.start(FLAG, None, ALICE)
        rb.flag_api.apply(FLAG, FlagChange(monitoring_enabled=False), ALICE)
        metrics.set(ERRORS, 0.5)  # far over the trigger's 1%
        for _ in range(3):
            clock.advance(timedelta(seconds=15))
            rb.watcher.evaluate()
        assert rb.rollouts.status(FLAG).state is RolloutState.RUNNING
        assert "Monitoring off" in notes(rb.rollouts.status(FLAG))
        rb.flag_api.apply(FLAG, FlagChange(monitoring_enabled=True), ALICE)
        for _ in range(2):
            clock.advance(timedelta(seconds=15))
            rb.watcher.evaluate()
        assert rb.rollouts.status(FLAG).state is RolloutState.ROLLED_BACK
    finally:
        rb.db.dispose()


def test_config_check_names_segments_a_plan_uses_but_config_lacks(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "chat-v2.yaml").write_text(STAFF_FIRST, encoding="utf-8")
    config = tmp_path / "rollbot.yaml"
    config.write_text(f"rollouts:\n  plans_dir: {plans}\n", encoding="utf-8")
    result = run(["config", "check", "--config", str(config)], tmp_path)
    # A warning (applications may still name the segment outright), not an error
    assert result.returncode == 0, result.stdout
    warning = "warning: " + str(config) + ": plan chat-v2: step 'staff': segments.internal: "
    assert warning + "unknown segment: only users whose application names it" in result.stdout
    config.write_text(f"rollouts:\n  plans_dir: {plans}\n" + SEGMENTS_YAML, encoding="utf-8")
    defined = run(["config", "check", "--config", str(config)], tmp_path)
    assert defined.returncode == 0 and "unknown segment" not in defined.stdout


def test_config_check_says_an_http_flag_api_must_hold_the_plans_segments(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "chat-v2.yaml").write_text(STAFF_FIRST, encoding="utf-8")
    config = tmp_path / "rollbot.yaml"
    http = (
        "flags:\n  provider: http\n  http:\n    base_url: https://flags.example.com\n"
        "    token_env: FLAGS_API_TOKEN\n"
    )
    config.write_text(f"rollouts:\n  plans_dir: {plans}\n{http}", encoding="utf-8")
    result = run(
        ["config", "check", "--config", str(config)], tmp_path, env={"FLAGS_API_TOKEN": "t"}
    )
    assert result.returncode == 0, result.stdout
    assert (
        "note: plans give segments percentages (chat-v2: beta, internal): the http flag API "
        "at https://flags.example.com must hold `segment_rollouts`"
    ) in result.stdout
    unleash = (
        "flags:\n  provider: unleash\n  unleash:\n    base_url: https://unleash.example.com\n"
        "    token_env: UNLEASH_TOKEN\n    environment: production\n    segment_context: team\n"
    )
    config.write_text(f"rollouts:\n  plans_dir: {plans}\n{unleash}", encoding="utf-8")
    result = run(["config", "check", "--config", str(config)], tmp_path, env={"UNLEASH_TOKEN": "t"})
    assert result.returncode == 0, result.stdout
    assert "only users whose application names it in the `team` context field" in result.stdout
    assert "note: plans give segments" not in result.stdout  # Unleash holds them
