"""`/rollback` in the shell: the steps without a reason, the runbook with one."""

from __future__ import annotations

import io
from pathlib import Path

from bot.clock import ManualClock
from bot.shell.chat import ShellChat
from bot.shell.repl import Shell
from tests.rollback_support import FLAG, build_rollbot


def test_rollback_in_the_shell(tmp_path: Path) -> None:
    out = io.StringIO()
    chat = ShellChat(out)
    rb = build_rollbot(
        tmp_path, f"sqlite:///{tmp_path}/r.db", ManualClock(), None, chat=lambda _s: chat.ports
    )
    shell = Shell(rb, chat, io.StringIO(), user="carol")
    try:
        shell.execute(f"/rollout start {FLAG}\n")
        out.seek(0)
        out.truncate(0)
        shell.execute(f"/rollback {FLAG}\n")
        shown = out.getvalue()
        assert "1. Disable the flag" in shown and "3. Deploy previous" in shown
        assert f"/rollback {FLAG} <reason>" in shown
        doc = rb.flags.get(FLAG)
        assert doc is not None and doc.enabled  # nothing ran
        out.seek(0)
        out.truncate(0)
        shell.execute(f"/rollback {FLAG} latency doubled\n")
        ran = out.getvalue()
        assert "Rollback of `chat-v2` started by carol" in ran.replace("*", "")
        assert "draining chat-v2 because latency doubled" in ran
        assert f"{FLAG}` is rolled back: 3 steps done" in ran
        doc = rb.flags.get(FLAG)
        assert doc is not None and not doc.enabled
        out.seek(0)
        out.truncate(0)
        shell.execute(f"/rollback {FLAG} again\n")
        assert "already rolled back; nothing was run" in out.getvalue()
    finally:
        rb.db.dispose()
