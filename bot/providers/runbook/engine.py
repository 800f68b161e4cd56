"""Runs a runbook: steps in order, each with retries; a failure stops it unless the step
says `continue_on_error`. Every start and result is reported as it happens."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.domain.runbook import RunbookStep
from bot.providers.runbook.base import RunContext, StepFailed, StepResult
from bot.providers.runbook.steps import run_step

log = logging.getLogger(__name__)

OnStart = Callable[[int, RunbookStep], None]
OnResult = Callable[[int, RunbookStep, StepResult], None]


@dataclass(frozen=True)
class RunbookResult:
    """Every step's result; `failed_step` names the step that stopped the runbook."""

    results: list[StepResult]
    failed_step: str | None

    @property
    def ok(self) -> bool:
        """True when no step stopped the runbook."""
        return self.failed_step is None


def run_one(step: RunbookStep, ctx: RunContext) -> StepResult:
    """Run a step with its retries; never raises."""
    started = ctx.monotonic()
    attempts = 0
    error, output = "", ""
    while attempts <= step.retries:
        attempts += 1
        try:
            output = run_step(step, ctx)
            return StepResult(
                step.name, step.kind, True, attempts, ctx.monotonic() - started, output
            )
        except StepFailed as exc:
            error, output = str(exc), exc.output
        except Exception as exc:
            # A bug or an unexpected failure in a step is a failed attempt, never a crash
            # that would leave the rollback half done and unreported.
            log.exception("runbook step %r raised", step.name)
            error, output = f"{type(exc).__name__}: {ctx.redact(str(exc))}", ""
        if attempts <= step.retries:
            ctx.sleep(step.retry_delay_s)
    return StepResult(
        step.name,
        step.kind,
        False,
        attempts,
        ctx.monotonic() - started,
        output,
        error,
        continued=step.continue_on_error,
    )


def run_runbook(
    steps: list[RunbookStep],
    ctx: RunContext,
    on_start: OnStart | None = None,
    on_result: OnResult | None = None,
) -> RunbookResult:
    """Run `steps` in order; stop at the first failure that is not continue_on_error."""
    results: list[StepResult] = []
    for index, step in enumerate(steps):
        if on_start is not None:
            on_start(index, step)
        result = run_one(step, ctx)
        results.append(result)
        if on_result is not None:
            on_result(index, step, result)
        if not result.ok and not step.continue_on_error:
            return RunbookResult(results, step.name)
    return RunbookResult(results, None)
