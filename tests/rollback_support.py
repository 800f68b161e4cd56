"""Shared by the rollback tests: a small plan with triggers, criteria and a harmless runbook,
a Rollbot built on it with a fake metrics provider, what its rollout's card and thread hear,
and the evaluation job driven by hand."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config.settings import Settings, load_settings
from bot.container import Rollbot, build
from bot.providers.metrics.base import MetricsProvider
from bot.services.chat import ChatPorts
from bot.services.events import Said
from bot.services.rollback.context import Listener
from bot.services.rollback.report import RollbackReport
from bot.services.rollouts.holds import AdvanceHold
from bot.services.rollouts.notifier import CardLocation, ThreadText
from bot.services.rollouts.views import RolloutView
from bot.slack.blocks import chat_text
from bot.wording import words
from tests.plan_support import (
    DISABLE_THE_FLAG,
    beta_and_ga,
    command_step,
    criterion,
    error_rate,
    named_runbook,
    plan_yaml,
    runbook_step,
    trigger,
)

# The evaluation interval `build_rollbot` configures (metrics.evaluation_seconds).
TICK = timedelta(seconds=15)


class ThreadRecorder:
    """A rollout notifier that keeps the last card of each rollout and every thread
    message, as Slack would show it."""

    def __init__(self) -> None:
        self.cards: dict[int, RolloutView] = {}
        self.events: list[str] = []

    def show_card(self, view: RolloutView) -> CardLocation | None:
        self.cards[view.id] = view
        return None

    def post_event(self, view: RolloutView, message: ThreadText) -> None:
        self.events.append(chat_text(message))


def hearing(recorder: ThreadRecorder) -> Callable[[Settings], ChatPorts]:
    """Chat ports whose rollout notifier is `recorder` (for `build_rollbot`'s `chat`)."""
    return lambda _settings: replace(ChatPorts.none(), rollouts=recorder)


def tick(bot: Rollbot, clock: ManualClock, times: int = 1) -> list[RollbackReport]:
    """Move the clock one evaluation interval and evaluate, `times` times."""
    reports: list[RollbackReport] = []
    for _ in range(times):
        clock.advance(TICK)
        reports += bot.watcher.evaluate()
    return reports


FLAG = "chat-v2"
ERRORS = "errors_ratio"
LATENCY = "latency_p95"
SUCCESS = "conn_success"

PLAN = plan_yaml(
    beta_and_ga(criteria=[criterion("success", SUCCESS, ">", 0.99, consecutive=2)]),
    triggers=[
        error_rate(ERRORS, description="error rate > 1%"),
        trigger("latency", LATENCY, ">", 0.5, unit="s", consecutive=3, missing_data="hold"),
    ],
    runbook=[
        DISABLE_THE_FLAG,
        command_step("Drain", 'echo draining "$ROLLBOT_FLAG" because "$ROLLBOT_REASON"'),
        command_step("Deploy previous", "echo deployed"),
    ],
)
"""The plan most rollback tests run (tests `.replace` parts of its text: keep it as it is)."""


# A plan with risk-specific runbooks: memory runs the partial `restart`; `collab-off` turns
# another flag off.
RUNBOOKS_PLAN = plan_yaml(
    triggers=[
        error_rate("errors"),
        trigger(
            "memory",
            "memory",
            ">",
            0.8,
            description="memory usage > 80%",
            consecutive=2,
            missing_data="ignore",
            runbook="restart",
        ),
    ],
    runbook=[DISABLE_THE_FLAG, command_step("Drain", "echo drained")],
    runbooks=[
        named_runbook(
            "restart",
            '"memory leaks: restart the servers"',
            [
                command_step("Restart the servers", 'echo restarted "$ROLLBOT_FLAG"'),
                command_step("Scale down", "echo scaled down"),
            ],
        ),
        named_runbook(
            "collab-off",
            '"state synchronisation: disable collaborative features"',
            [
                runbook_step(
                    "Disable collaborative features",
                    "flag",
                    flag="chat-v2-collab",
                    set="{enabled: false}",
                    timeout="5s",
                )
            ],
        ),
    ],
)


def write_plan(directory: Path, text: str = PLAN, name: str = "chat-v2.yaml") -> Path:
    """A plans folder holding `text`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")
    return directory


@contextmanager
def rollbot_for(*args: Any, **kwargs: Any) -> Iterator[Rollbot]:
    """`build_rollbot(*args, **kwargs)`, its database disposed when the block ends."""
    bot = build_rollbot(*args, **kwargs)
    try:
        yield bot
    finally:
        bot.db.dispose()


def build_rollbot(
    tmp_path: Path,
    database_url: str,
    clock: ManualClock,
    metrics: MetricsProvider | None,
    plan: str = PLAN,
    extra_yaml: str = "",
    env: dict[str, str] | None = None,
    metrics_yaml: str = "metrics:\n  evaluation_seconds: 15\n",
    chat: Callable[[Settings], ChatPorts] | None = None,
    runbooks_in_threads: bool = False,
    sleep: Callable[[float], None] = lambda _s: None,  # retries do not wait in tests
    holds: Sequence[AdvanceHold] = (),
    rollback_listeners: Sequence[Listener] = (),
) -> Rollbot:
    """A Rollbot on `plan`, evaluating every 15 s; `metrics` (if given) replaces the provider
    that `metrics_yaml` configures; `chat` gives the chat ports for the settings (none by
    default); `holds` and `rollback_listeners` go to `build`."""
    plans = write_plan(tmp_path / "plans", plan)
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {plans}\n  advance_guard: 1s\n" + metrics_yaml + extra_yaml,
        encoding="utf-8",
    )
    settings = load_settings(env={"DATABASE_URL": database_url, **(env or {})}, config_path=config)
    return build(
        settings,
        clock,
        chat(settings) if chat else None,
        runbooks_in_threads=runbooks_in_threads,
        metrics=metrics,
        sleep=sleep,
        holds=holds,
        rollback_listeners=rollback_listeners,
    )


class Died(BaseException):
    """Stands in for the process dying mid-step: nothing in rollbot catches it."""


@contextmanager
def dying_at(monkeypatch: pytest.MonkeyPatch, bot: Rollbot, said: str) -> Iterator[None]:
    """The rollback the block runs dies (`Died`) as it posts the thread message that
    says `said` (`"Step 2/2 started"`); the block must end in that death. Afterwards the
    thread hears again, for the run that resumes."""
    runs = bot.rollback.runs
    post = runs._post

    def dying(report: RollbackReport, message: Said) -> None:
        if said in words(message).plain():
            raise Died
        post(report, message)

    monkeypatch.setattr(runs, "_post", dying)
    with pytest.raises(Died):
        yield
    monkeypatch.setattr(runs, "_post", post)
