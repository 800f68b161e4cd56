"""`/rollback` in the shell: the steps without a reason, the runbook with one."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.clock import ManualClock
from bot.container import Rollbot
from bot.shell.chat import ShellChat
from bot.shell.repl import Shell
from tests.rollback_support import FLAG, PLAN, RUNBOOKS_PLAN, build_rollbot


class Terminal:
    """A shell on a rollbot, as carol: each line typed, and what it printed."""

    def __init__(self, rb: Rollbot, chat: ShellChat, out: io.StringIO) -> None:
        self.rb = rb
        self.shell = Shell(rb, chat, io.StringIO(), user="carol")
        self.out = out

    def type(self, line: str) -> str:
        """What the shell prints for `line`."""
        self.out.seek(0)
        self.out.truncate(0)
        self.shell.execute(f"{line}\n")
        return self.out.getvalue()


@contextmanager
def terminal(tmp_path: Path, plan: str = PLAN) -> Iterator[Terminal]:
    out = io.StringIO()
    chat = ShellChat(out)
    rb = build_rollbot(
        tmp_path, f"sqlite:///{tmp_path}/r.db", ManualClock(), None, plan=plan,
        chat=lambda _s: chat.ports,
    )  # fmt: skip
    try:
        yield Terminal(rb, chat, out)
    finally:
        rb.db.dispose()


def test_rollback_in_the_shell(tmp_path: Path) -> None:
    with terminal(tmp_path) as term:
        term.type(f"/rollout start {FLAG}")
        shown = term.type(f"/rollback {FLAG}")
        assert "1. Disable the flag" in shown and "3. Deploy previous" in shown
        assert f"/rollback {FLAG} <reason>" in shown
        doc = term.rb.flags.get(FLAG)
        assert doc is not None and doc.enabled  # nothing ran
        ran = term.type(f"/rollback {FLAG} latency doubled")
        assert "Rollback of `chat-v2` started by carol" in ran.replace("*", "")
        assert "draining chat-v2 because latency doubled" in ran
        assert f"{FLAG}` is rolled back: 3 steps done" in ran
        doc = term.rb.flags.get(FLAG)
        assert doc is not None and not doc.enabled
        again = term.type(f"/rollback {FLAG} again")
        assert "already rolled back; nothing was run" in again


def test_a_named_runbook_in_the_shell_leaves_the_rollout_paused(tmp_path: Path) -> None:
    with terminal(tmp_path, RUNBOOKS_PLAN) as term:
        term.type(f"/rollout start {FLAG}")
        shown = term.type(f"/rollback {FLAG}")
        assert "Other runbooks of this plan" in shown and "collab-off" in shown
        ran = term.type(f"/rollback {FLAG} collab-off editors overwrite each other")
        ran = ran.replace("*", "")
        assert "Runbook `collab-off` for `chat-v2`" in ran
        assert "stays on at 5% and its rollout is paused" in ran
        assert "still running, paused: `/rollout resume chat-v2`" in ran
        main, collab = term.rb.flags.get(FLAG), term.rb.flags.get("chat-v2-collab")
        assert main is not None and (main.enabled, main.rollout_percentage) == (True, 5)
        assert collab is not None and not collab.enabled
        assert "paused" in term.type(f"/rollout status {FLAG}").lower()
