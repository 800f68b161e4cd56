"""One attempt of each kind of runbook step. Each raises StepFailed (or times out) on failure
and returns the output worth showing on success."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from typing import Any

import httpx
from sqlalchemy import inspect

from bot.domain.flag import FlagChange
from bot.domain.runbook import (
    CommandStep,
    FlagStep,
    HttpStep,
    RunbookStep,
    SqlStep,
    WaitForHealthStep,
)
from bot.providers.databases import Databases, DatabaseUnavailable, execute
from bot.providers.metrics.base import MetricsProviderError
from bot.providers.runbook import children
from bot.providers.runbook.base import RunContext, StepFailed
from bot.providers.runbook.leftovers import MARKER


def run_step(step: RunbookStep, ctx: RunContext) -> str:
    """Run one attempt of `step` within its timeout; return its output."""
    if isinstance(step, FlagStep):
        return _flag(step, ctx)
    if isinstance(step, CommandStep):
        return _command(step, ctx)
    if isinstance(step, HttpStep):
        return _http(step, ctx)
    if isinstance(step, SqlStep):
        return _sql(step, ctx)
    return _wait_for_health(step, ctx)


def _flag(step: FlagStep, ctx: RunContext) -> str:
    change = FlagChange.model_validate(step.set)
    box: dict[str, Any] = {}
    flag_key = step.flag or ctx.flag_key

    def apply() -> None:
        try:
            box["doc"] = ctx.flags.apply(flag_key, change, ctx.actor)
        except Exception as exc:
            box["error"] = exc

    # A remote flag API that hangs must not hang the rollback: wait at most the timeout.
    worker = threading.Thread(target=apply, name="runbook-flag", daemon=True)
    worker.start()
    worker.join(step.timeout_s)
    if worker.is_alive():
        raise StepFailed(f"the flag provider ({ctx.flags.name}) did not answer in {step.timeout}")
    if "error" in box:
        raise StepFailed(f"the flag provider ({ctx.flags.name}) failed: {box['error']}")
    doc = box["doc"]
    return (
        f"{flag_key}: enabled={doc.enabled}, rollout_percentage={doc.rollout_percentage} "
        f"(via {ctx.flags.name})"
    )


def command_env(step: CommandStep, ctx: RunContext) -> dict[str, str]:
    """The command's environment: rollbot's minus its own secrets, plus the step's."""
    env = {k: v for k, v in ctx.env.items() if k not in ctx.private}
    env.update(
        ROLLBOT_FLAG=ctx.flag_key,
        ROLLBOT_ROLLOUT_ID=str(ctx.rollout_id),
        ROLLBOT_REASON=ctx.reason,
    )
    if ctx.run_marker is not None:
        env[MARKER] = ctx.run_marker
    env.update(step.env)
    for name, source in step.env_from.items():
        env[name] = ctx.secret(source)
    return env


def _command(step: CommandStep, ctx: RunContext) -> str:
    env = command_env(step, ctx)
    children.check()
    # Own process group, so a timeout kills the whole pipeline, not just the shell; the
    # shell dies with rollbot (children.py).
    proc = subprocess.Popen(
        ["/bin/sh", "-c", step.run],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=step.cwd,
        start_new_session=True,
        preexec_fn=children.die_with_rollbot(),  # only prctl, then exec
    )
    try:
        children.started(proc.pid)
        try:
            out, _ = proc.communicate(timeout=step.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            raise StepFailed(
                f"timed out after {step.timeout}", ctx.tail(out.decode(errors="replace"))
            ) from None
    except children.StepInterrupted:
        proc.kill()
        proc.communicate()
        raise
    finally:
        children.ended(proc.pid)
    if proc.returncode != 0 and children.stopping():
        raise children.StepInterrupted(f"rollbot stopped while {step.name!r} ran")
    text = ctx.tail(out.decode(errors="replace"))
    if proc.returncode != 0:
        raise StepFailed(f"exited with status {proc.returncode}", text)
    return text


def _http(step: HttpStep, ctx: RunContext) -> str:
    headers = dict(step.headers)
    for header, source in step.headers_from_env.items():
        headers[header] = ctx.secret(source)
    kwargs: dict[str, Any] = {"headers": headers, "timeout": step.timeout_s}
    if isinstance(step.body, str):
        kwargs["content"] = step.body
    elif step.body is not None:
        kwargs["json"] = step.body
    try:
        response = httpx.request(step.method, step.url, **kwargs)
    except httpx.TimeoutException:
        raise StepFailed(f"no answer within {step.timeout}") from None
    except httpx.HTTPError as exc:
        raise StepFailed(f"request failed: {exc}") from None
    text = ctx.tail(f"HTTP {response.status_code} {response.text}")
    if response.status_code not in step.expect_status:
        raise StepFailed(
            f"answered HTTP {response.status_code}, expected {_statuses(step.expect_status)}",
            text,
        )
    return text


def _statuses(codes: list[int]) -> str:
    return " or ".join(str(c) for c in codes)


def _probe(step: WaitForHealthStep, ctx: RunContext, budget: float) -> tuple[bool, str]:
    """One health check: (healthy, what was seen)."""
    if step.url is not None:
        try:
            response = httpx.get(step.url, timeout=max(0.5, min(budget, 10.0)))
        except httpx.HTTPError as exc:
            return False, f"{step.url}: {type(exc).__name__}"
        seen = f"{step.url}: HTTP {response.status_code}"
        return response.status_code in step.expect_status, seen
    assert step.query is not None
    try:
        value = ctx.metrics.query(step.query)
    except MetricsProviderError as exc:
        return False, f"metrics error: {exc}"
    if value is None:
        return False, f"`{step.query}`: no data"
    return step.healthy_value(value), f"`{step.query}` = {json.dumps(value)}"


def _wait_for_health(step: WaitForHealthStep, ctx: RunContext) -> str:
    deadline = ctx.monotonic() + step.timeout_s
    polls = 0
    while True:
        polls += 1
        healthy, seen = _probe(step, ctx, deadline - ctx.monotonic())
        if healthy:
            return f"healthy after {polls} check(s): {seen}"
        if ctx.monotonic() + step.interval_s > deadline:
            raise StepFailed(
                f"not healthy within {step.timeout} ({polls} checks)", ctx.tail(f"last: {seen}")
            )
        ctx.sleep(step.interval_s)


def _first_line(statement: str) -> str:
    line = " ".join(statement.split())
    return line if len(line) <= 80 else line[:79] + "…"


def _counts(databases: Databases, step: SqlStep) -> str:
    """`realtime_data 120 rows, realtime_backup absent`, read in a transaction of its own."""
    if not step.count_rows:
        return ""
    parts: list[str] = []
    with databases.transaction(step.database, step.timeout_s, read_only=True) as conn:
        inspector = inspect(conn)
        for table in step.count_rows:
            schema, _, name = table.rpartition(".")
            if not inspector.has_table(name, schema=schema or None):
                parts.append(f"{table} absent")
                continue
            # The name is an identifier checked by the plan (SqlStep.count_rows), quoted here.
            quoted = ".".join(conn.dialect.identifier_preparer.quote(p) for p in table.split("."))
            count = conn.exec_driver_sql(f"SELECT COUNT(*) FROM {quoted}").scalar()
            parts.append(f"{table} {count} rows")
    return ", ".join(parts)


def _sql(step: SqlStep, ctx: RunContext) -> str:
    """The statements in one transaction: all commit, or (an error, a timeout, a crash)
    none does. `skip_if` true: nothing to do (already done), reported as such."""
    databases = ctx.databases
    if databases is None or step.database not in databases:
        raise StepFailed(f"no database called {step.database!r} is configured (databases:)")
    lines: list[str] = []
    try:
        before = _counts(databases, step)
        if before:
            lines.append(f"before: {before}")
        with databases.transaction(step.database, step.timeout_s, read_only=False) as conn:
            if step.skip_if is not None and execute(conn, step.skip_if).scalar():
                lines.append(f"skipped, already done: {_first_line(step.skip_if)} is true")
                return ctx.tail("\n".join(lines))
            for number, statement in enumerate(step.statements, start=1):
                # The plan author's SQL, as written: nothing from chat is ever put in it.
                result = execute(conn, statement)
                rows = f"{result.rowcount} row(s)" if result.rowcount >= 0 else "done"
                lines.append(f"{number}. {_first_line(statement)}: {rows}")
        lines.append(f"committed {len(step.statements)} statement(s) in one transaction")
        after = _counts(databases, step)
        if after:
            lines.append(f"after: {after}")
    except DatabaseUnavailable as exc:
        lines.append("rolled back: nothing was changed")
        raise StepFailed(str(exc), ctx.tail("\n".join(lines))) from None
    return ctx.tail("\n".join(lines))
