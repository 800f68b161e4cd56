"""`/rollback` in the shell: the steps without a reason, the runbook with one."""

from __future__ import annotations

import io
from pathlib import Path

from bot.clock import ManualClock
from bot.shell.chat import ShellChat
from bot.shell.repl import Shell
from tests.rollback_support import FLAG, RUNBOOKS_PLAN, build_rollbot


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


def test_a_named_runbook_in_the_shell_leaves_the_rollout_paused(tmp_path: Path) -> None:
    out = io.StringIO()
    chat = ShellChat(out)
    rb = build_rollbot(
        tmp_path,
        f"sqlite:///{tmp_path}/r.db",
        ManualClock(),
        None,
        plan=RUNBOOKS_PLAN,
        chat=lambda _s: chat.ports,
    )
    shell = Shell(rb, chat, io.StringIO(), user="carol")
    try:
        shell.execute(f"/rollout start {FLAG}\n")
        out.seek(0)
        out.truncate(0)
        shell.execute(f"/rollback {FLAG}\n")
        shown = out.getvalue()
        assert "Other runbooks of this plan" in shown and "collab-off" in shown
        out.seek(0)
        out.truncate(0)
        shell.execute(f"/rollback {FLAG} collab-off editors overwrite each other\n")
        ran = out.getvalue().replace("*", "")
        assert "Runbook `collab-off` for `chat-v2`" in ran
        assert "stays on at 5% and its rollout is paused" in ran
        assert "still running, paused: `/rollout resume chat-v2`" in ran
        main, collab = rb.flags.get(FLAG), rb.flags.get("chat-v2-collab")
        assert main is not None and (main.enabled, main.rollout_percentage) == (True, 5)
        assert collab is not None and not collab.enabled
        out.seek(0)
        out.truncate(0)
        shell.execute(f"/rollout status {FLAG}\n")
        assert "paused" in out.getvalue().lower()
    finally:
        rb.db.dispose()
