"""The Docker image's install step, without Docker: build the wheel from the files the
Dockerfile copies, install it (not editable) into a fresh venv outside the checkout, and run
`rollbot serve` from another folder with no config of its own through an incident.

The venv sees the machine's packages (`--system-site-packages`), so rollbot's dependencies
come from here and are not downloaded; only the build backend (`[build-system] requires`)
comes from the package index, into pip's isolated build as in the image. rollbot itself is
imported from the venv, never from this checkout (asserted). Slack is the fake Slack Web
API, over real HTTP.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.fakes.slack_api import Call, FakeSlack
from tests.fakes.slack_requests import SlackRequestSender
from tests.process_support import stop_process

REPO = Path(__file__).resolve().parent.parent
SIGNING_SECRET = "wheel-test-secret"
CHANNEL = "C_RELEASES"
TITLE = "Checkout API errors"


def builder_context() -> list[str]:
    """The paths the Dockerfile's builder stage copies into the image's build."""
    stages = re.split(
        r"^FROM ", REPO.joinpath("Dockerfile").read_text(encoding="utf-8"), flags=re.M
    )
    [stage] = [s for s in stages if s.split("\n")[0].endswith(" AS builder")]
    sources: list[str] = []
    for line in stage.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources.extend(words[1:-1])
    assert sources, "the Dockerfile's builder stage copies nothing"
    return sources


@dataclass(frozen=True)
class Installed:
    """The wheel and the venv it is installed in."""

    wheel: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def rollbot(self) -> Path:
        return self.venv / "bin" / "rollbot"


def clean_env(**extra: str) -> dict[str, str]:
    """The machine's environment without anything pointing at this checkout or a config."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "ROLLBOT_", "PYTHON", "VIRTUAL_ENV")) and k != "DATABASE_URL"
    }
    return env | extra


def run_ok(
    args: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `args` in `cwd` with `env` (default: `clean_env()`); it must succeed."""
    done = subprocess.run(
        args, cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel as the Dockerfile does and install it into a fresh venv."""
    root = tmp_path_factory.mktemp("wheel")
    # A copy of the Docker build context: a stale build/ folder or files the Dockerfile does
    # not copy cannot make the wheel look complete.
    context = root / "context"
    context.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "rollbot.yaml")
    for name in builder_context():
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=ignore)
        else:
            shutil.copy2(source, context / name)
    dist = root / "dist"
    run_ok(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(dist), "."],
        context,
        180,
    )
    [wheel] = dist.glob("rollbot-*.whl")
    venv = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=60
    )
    # --force-reinstall: an editable rollbot among the machine's packages must not count as
    # already installed.
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps"]
    run_ok([*pip, "--no-index", "--force-reinstall", str(wheel)], root, 120)
    return Installed(wheel, venv)


def test_the_wheel_carries_every_template_the_example_config_and_the_plan(
    installed: Installed,
) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    shipped = {
        f"bot/_shipped/{path.relative_to(REPO).as_posix()}"
        for path in REPO.joinpath("templates").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert len(shipped) >= 4
    # Every file under templates/, whatever its name or sub-folder, is in the wheel.
    assert shipped <= names, sorted(shipped - names)
    assert "bot/_shipped/config/rollbot.example.yaml" in names
    assert "bot/_shipped/config/plans/realtime-features.yaml" in names
    assert any(n.startswith("bot/store/migrations/versions/0001") for n in names)


def test_an_installed_rollbot_finds_its_own_config_and_plan(
    installed: Installed, tmp_path: Path
) -> None:
    probe = run_ok(
        [
            str(installed.python),
            "-c",
            "import bot, bot.config.shipped as s; print(bot.__file__); print(s.templates_dir())",
        ],
        tmp_path,
        60,
    )
    module, templates = probe.stdout.split()
    # The installed copy, not this checkout.
    assert Path(module).is_relative_to(installed.venv), module
    assert Path(templates).is_relative_to(installed.venv) and Path(templates).is_dir()
    check = run_ok(
        [str(installed.rollbot), "config", "check"],
        tmp_path,
        60,
        clean_env(DATABASE_URL=f"sqlite:///{tmp_path}/check.db"),
    )
    example = installed.venv.glob("lib/python*/site-packages/bot/_shipped/config")
    assert f"{next(example)}/rollbot.example.yaml: OK (1 plan(s): realtime-features" in (
        check.stdout
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """`rollbot serve` from the venv, and what it printed."""

    proc: subprocess.Popen[str]
    base_url: str
    lines: list[str] = field(default_factory=list)

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def served(installed: Installed, tmp_path: Path) -> Iterator[tuple[Served, FakeSlack]]:
    """The installed rollbot serving Slack over HTTP against the fake Slack, started from a
    folder that has no config (so it runs on the packaged example config and plan)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with FakeSlack() as fake:
        port = free_port()
        env = clean_env(
            SLACK_BOT_TOKEN="xoxb-wheel",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.api_url,
            DATABASE_URL=f"sqlite:///{tmp_path}/serve.db",
        )
        proc = subprocess.Popen(
            [str(installed.rollbot), "serve", "--port", str(port)],
            cwd=elsewhere,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        run = Served(proc, f"http://127.0.0.1:{port}")
        threading.Thread(target=run.read, name="wheel-serve-output", daemon=True).start()
        try:
            yield run, fake
        finally:
            stop_process(proc)


def wait_healthy(run: Served, timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        assert run.proc.poll() is None, f"rollbot serve exited:\n{run.output}"
        try:
            response = httpx.get(f"{run.base_url}/healthz", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"rollbot serve did not come up:\n{run.output}"
        time.sleep(0.2)


def wait_for_call(
    fake: FakeSlack, method: str, matches: Callable[[Call], bool], timeout: float = 15.0
) -> Call:
    """The first call to `method` that `matches`, once it has arrived."""
    deadline = time.monotonic() + timeout
    while not (found := [c for c in fake.calls_to(method) if c.ok and matches(c)]):
        assert time.monotonic() < deadline, [c.params for c in fake.calls_to(method)]
        time.sleep(0.05)
    return found[0]


def test_rollbot_serve_from_the_wheel_runs_an_incident_and_a_digest_through_its_templates(
    served: tuple[Served, FakeSlack],
) -> None:
    run, fake = served
    health = wait_healthy(run)
    assert health.json()["status"] == "ok"
    slack = SlackRequestSender(run.base_url, SIGNING_SECRET, fake.response_url)

    def incident(text: str, channel_id: str = CHANNEL) -> str:
        before = len(fake.calls_to("response_url"))
        response = slack.command("/incident", text, channel_id=channel_id)
        assert response.status_code == 200, response.text
        reply = fake.wait_for("response_url", before + 1, timeout=15)[before]
        return str(reply.params.get("text")) + json.dumps(reply.params.get("blocks"))

    try:
        # Declared: channel, card, and the first status update drafted from
        # templates/status_update.md.j2 and sent to the commander (the declarer: no pager).
        assert f"Declared SEV2 *{TITLE}*" in incident(f"declare sev2 {TITLE}")
        [created] = fake.calls_to("conversations.create")
        channel = str(created.response["channel"]["id"])  # type: ignore[index]
        draft = wait_for_call(
            fake,
            "chat.postMessage",
            lambda c: str(c.params.get("channel", "")).startswith("D"),
        )
        assert f"We are investigating reports of {TITLE.lower()}." in json.dumps(draft.params)

        # Published to the builtin status page of the example config: GET /status renders
        # templates/status_page.html.j2 with it.
        assert "published" in incident("publish", channel_id=channel).lower()
        page = httpx.get(f"{run.base_url}/status", timeout=10)
        assert page.status_code == 200, page.text
        assert "<title>Example, Inc. status</title>" in page.text
        assert TITLE in page.text and "We are investigating reports of" in page.text

        # Resolved: the post-mortem drafted from templates/postmortem.md.j2 and uploaded.
        assert "Resolved" in incident("resolve Bad deploy rolled back", channel_id=channel)
        fake.wait_for("files.completeUploadExternal", timeout=15)
        [upload] = [f for f in fake.uploaded_files.values() if f.completed]
        markdown = (upload.content or b"").decode()
        assert f"# Post-mortem: {TITLE}" in markdown
        assert "Bad deploy rolled back" in markdown and "## Root cause" in markdown

        # A digest shown now (`/rollout digest`, privately): rendered from
        # templates/digest.md.j2, so the digest template loads from the wheel too.
        before = len(fake.calls_to("response_url"))
        response = slack.command("/rollout", "digest")
        assert response.status_code == 200, response.text
        reply = fake.wait_for("response_url", before + 1, timeout=15)[before]
        shown = str(reply.params.get("text")) + json.dumps(reply.params.get("blocks"))
        assert reply.params["response_type"] == "ephemeral"
        assert "Status digest: " in shown, shown
        assert "Nothing to report" in shown, shown  # the incident is resolved, nothing runs

        assert wait_healthy(run).json()["status"] == "ok"
        fake.assert_no_invalid_payloads()
    finally:
        slack.close()
    assert "Traceback" not in run.output and "TemplateNotFound" not in run.output
    assert re.search(r"rollbot listening on http://127\.0\.0\.1:\d+", run.output), run.output
