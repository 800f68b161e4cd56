"""The runbook engine with real processes and a real local HTTP server: output, exit codes,
timeouts, retries, continue_on_error, secrets kept out of output, health polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import TypeAdapter

from bot.domain.actor import Actor, Via
from bot.domain.flag import FlagChange, FlagDocument, apply_change
from bot.domain.runbook import RunbookStep
from bot.providers.metrics.base import MetricsProviderError
from bot.providers.runbook.base import RunContext
from bot.providers.runbook.engine import run_one, run_runbook
from tests.fakes.metrics import FakeMetrics

STEP = TypeAdapter(RunbookStep)


def step(**kw: Any) -> RunbookStep:
    return STEP.validate_python({"name": "s", **kw})


class MemoryFlags:
    name = "memory"

    def __init__(self, fail: int = 0, hang: bool = False) -> None:
        self.doc = FlagDocument(enabled=True, rollout_percentage=25)
        self.fail, self.hang, self.calls = fail, hang, 0

    def get(self, key: str) -> FlagDocument | None:
        return self.doc

    def apply(
        self, key: str, change: FlagChange, actor: Actor, session: Any = None
    ) -> FlagDocument:
        self.calls += 1
        if self.hang:
            time.sleep(5)
        if self.calls <= self.fail:
            raise RuntimeError("flag API 500")
        self.doc = apply_change(self.doc, change)
        return self.doc


def ctx(
    flags: MemoryFlags | None = None, env: dict[str, str] | None = None, **kw: Any
) -> RunContext:
    return RunContext(
        flag_key="f",
        rollout_id=7,
        reason="errors up",
        actor=Actor("rollbot", Via.SCHEDULER),
        flags=flags or MemoryFlags(),
        metrics=kw.pop("metrics", FakeMetrics()),
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        sleep=lambda _s: None,
        **kw,
    )


def test_flag_step_turns_the_flag_off_with_retries() -> None:
    flags = MemoryFlags(fail=2)
    result = run_one(step(kind="flag", retries=2), ctx(flags))
    assert result.ok and result.attempts == 3
    assert not flags.doc.enabled and flags.doc.rollout_percentage == 0
    assert "enabled=False" in result.output
    failing = run_one(step(kind="flag", retries=1), ctx(MemoryFlags(fail=5)))
    assert not failing.ok and failing.attempts == 2 and "flag API 500" in str(failing.error)


def test_a_hanging_flag_provider_times_out() -> None:
    started = time.monotonic()
    result = run_one(step(kind="flag", timeout="1s"), ctx(MemoryFlags(hang=True)))
    assert not result.ok and "did not answer in 1s" in str(result.error)
    assert time.monotonic() - started < 3


def test_command_output_env_and_exit_status() -> None:
    ok = run_one(
        step(kind="command", run='echo "$ROLLBOT_FLAG $ROLLBOT_REASON $X"', env={"X": "1"}), ctx()
    )
    assert ok.ok and ok.output == "f errors up 1"
    bad = run_one(step(kind="command", run="echo oops >&2; exit 4", retries=1), ctx())
    assert not bad.ok and bad.attempts == 2 and bad.error == "exited with status 4"
    assert bad.output == "oops"


def test_command_never_sees_rollbot_secrets_and_output_is_redacted() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-secret", "DEPLOY_TOKEN": "deploy-secret-123"}
    s = step(
        kind="command",
        run='echo "slack=${SLACK_BOT_TOKEN:-none} token=$TOKEN"',
        env_from={"TOKEN": "DEPLOY_TOKEN"},
    )
    result = run_one(s, ctx(env=env))
    assert result.ok and result.output == "slack=none token=***"
    echo = step(kind="command", run="echo leaked xoxb-secret")
    assert run_one(echo, ctx(env=env)).output == "leaked ***"
    missing = run_one(step(kind="command", run="true", env_from={"T": "ABSENT"}), ctx())
    assert not missing.ok and "ABSENT is not set" in str(missing.error)


def test_command_timeout_kills_the_whole_process_group() -> None:
    started = time.monotonic()
    result = run_one(step(kind="command", run="echo begun; sleep 30 | cat", timeout="1s"), ctx())
    assert not result.ok and result.error == "timed out after 1s"
    assert "begun" in result.output
    assert time.monotonic() - started < 5


def test_long_output_keeps_its_tail() -> None:
    result = run_one(step(kind="command", run="seq 1 5000"), ctx(output_tail_chars=200))
    assert result.ok and len(result.output) <= 200
    assert result.output.startswith("…") and result.output.endswith("5000")


class Server:
    """A local HTTP server answering with the statuses the test queues."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append(
                    (self.command, self.path, dict(self.headers), self.rfile.read(length))
                )
                status = outer.statuses.pop(0) if outer.statuses else 200
                body = b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def test_http_step_sends_headers_from_env_and_checks_the_status(server: Server) -> None:
    s = step(
        kind="http",
        url=server.url + "/deploy",
        headers_from_env={"Authorization": "AUTH"},
        body={"version": "previous"},
        expect_status=[202],
        retries=1,
    )
    server.statuses = [500, 202]
    result = run_one(s, ctx(env={"AUTH": "Bearer abcdef"}))
    assert result.ok and result.attempts == 2
    method, path, headers, body = server.requests[-1]
    assert (method, path, headers["Authorization"]) == ("POST", "/deploy", "Bearer abcdef")
    assert body == b'{"version":"previous"}'
    server.statuses = [200]
    wrong = run_one(s.model_copy(update={"retries": 0}), ctx(env={"AUTH": "x"}))
    assert not wrong.ok and "answered HTTP 200, expected 202" in str(wrong.error)


def test_wait_for_health_polls_a_url_until_healthy(server: Server) -> None:
    server.statuses = [503, 503, 200]
    s = step(kind="wait_for_health", url=server.url + "/health", interval="1s", timeout="1m")
    result = run_one(s, ctx())
    assert result.ok and "healthy after 3 check(s)" in result.output


def test_wait_for_health_on_a_metric_times_out() -> None:
    metrics = FakeMetrics()
    metrics.set("up", 0)
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    s = step(
        kind="wait_for_health",
        query="up",
        comparison=">=",
        threshold=1,
        interval="10s",
        timeout="30s",
    )
    context = ctx(metrics=metrics)
    context.sleep, context.monotonic = sleep, lambda: clock[0]
    result = run_one(s, context)
    assert not result.ok and "not healthy within 30s (4 checks)" in str(result.error)
    assert "`up` = 0" in result.output
    metrics.set("up", 1)
    assert run_one(s, context).ok


def test_a_failure_stops_the_runbook_unless_continue_on_error() -> None:
    steps = [
        step(kind="flag", name="off"),
        step(kind="command", name="optional", run="exit 1", continue_on_error=True),
        step(kind="command", name="must", run="exit 2"),
        step(kind="command", name="never", run="true"),
    ]
    started: list[str] = []
    outcome = run_runbook(steps, ctx(), on_start=lambda i, s: started.append(s.name))
    assert outcome.failed_step == "must" and not outcome.ok
    assert started == ["off", "optional", "must"]
    assert [(r.name, r.ok, r.continued) for r in outcome.results] == [
        ("off", True, False),
        ("optional", False, True),
        ("must", False, False),
    ]


def test_wait_for_health_keeps_polling_while_the_metrics_system_is_down() -> None:
    metrics = FakeMetrics()
    metrics.set("up", MetricsProviderError("Prometheus did not answer: connection refused"))
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds
        if clock[0] >= 20:
            metrics.set("up", 1)  # back after 20 s

    s = step(
        kind="wait_for_health",
        query="up",
        comparison=">=",
        threshold=1,
        interval="5s",
        timeout="1m",
    )
    context = ctx(metrics=metrics)
    context.sleep, context.monotonic = sleep, lambda: clock[0]
    result = run_one(s, context)
    assert result.ok and "healthy after 5 check(s)" in result.output
