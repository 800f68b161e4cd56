"""The sign-off chain in the shell: choose who you are with `as`, press Approve / Reject /
Check by their labels, `/approve` and `/rollout report`, all typed on stdin."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.config.settings import load_settings
from bot.container import Rollbot
from bot.shell.chat import ShellChat
from bot.shell.repl import Shell
from bot.store import audit
from tests.conftest import built

PLANS_DIR = (Path(__file__).resolve().parent.parent / "config" / "plans").resolve()
FLAG = "realtime-features"
CONFIG = f"""
rollouts:
  plans_dir: {PLANS_DIR}
  default_plan: realtime-features
roles:
  eng_lead: {{name: Engineering Lead, members: [erin]}}
  product_manager: {{name: Product Manager, members: [pat]}}
  security_lead: {{name: Security Lead, members: [sam]}}
  ops_lead: {{name: Operations Lead, members: [olga]}}
  cto: {{name: CTO, members: [carl]}}
signoff:
  enforce_gates: true
"""
SIGNERS = ["erin", "pat", "sam", "olga", "carl"]


@pytest.fixture
def out() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def chat(out: io.StringIO) -> ShellChat:
    return ShellChat(out)


@pytest.fixture
def rb(tmp_path: Path, chat: ShellChat) -> Iterator[Rollbot]:
    config = tmp_path / "rollbot.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(env={"DATABASE_URL": f"sqlite:///{tmp_path}/r.db"}, config_path=config)
    with built(settings, clock=ManualClock(), chat=chat.ports) as bot:
        yield bot


def feed(shell: Shell, out: io.StringIO, text: str) -> str:
    start = len(out.getvalue())
    shell.stdin = io.StringIO(text)
    assert shell.run() == 0
    return out.getvalue()[start:]


def test_the_chain_checklists_rejection_and_report_in_the_shell(
    rb: Rollbot, chat: ShellChat, out: io.StringIO
) -> None:
    shell = Shell(rb, chat, io.StringIO(""), user="you")

    text = feed(shell, out, f"/rollout start {FLAG}\n")
    assert "[DM to erin] your sign-off as Engineering Lead is needed" in text
    assert "[Approve as Engineering Lead] [Reject as Engineering Lead]" in text
    assert "Engineering Lead: waiting for signature" in text  # on the card

    text = feed(shell, out, "press approve\n")  # "you" hold no role
    assert "! Only someone holding the role Engineering Lead can sign for it" in text

    text = feed(shell, out, "as erin\npress approve\n")
    assert "Signed: Approval Chain (before Limited Beta)" in text
    assert "[DM to pat] your sign-off as Product Manager is needed" in text
    text = feed(shell, out, "press approve\n")  # the card now asks the Product Manager
    assert "Only someone holding the role Product Manager can sign for it" in text

    text = feed(shell, out, "as pat\npress approve\nas sam\npress reject\npen test still open\n")
    assert "Why? Type the reason on the next line" in text
    assert "Rejected Approval Chain (before Limited Beta)" in text
    assert "[DM to you] x Your rollout of `realtime-features` is paused" in text
    assert "pen test still open" in text
    assert rb.rollouts.status(FLAG).state.value == "paused"

    text = feed(shell, out, "as you\n/rollout resume realtime-features\n")
    text = feed(
        shell, out, "as sam\npress approve\nas olga\npress approve\nas carl\npress approve\n"
    )
    assert "All signatures are in." in text

    text = feed(shell, out, "/approve realtime-features\n")
    assert "| Security Lead | sam | approved via shell |" in text

    text = feed(shell, out, "as you\n/rollout advance realtime-features\n")
    assert "! `realtime-features` cannot leave step 1 yet" in text
    assert "Code Readiness" in text

    text = feed(shell, out, "as erin\n/approve checklist realtime-features\n")
    assert "[Check Code review completed]" in text
    text = feed(shell, out, "press check code review\n")
    assert "Checked “Code review completed”" in text
    text = feed(shell, out, "as pat\npress check documentation complete\n")
    assert "Checked “Documentation complete”" in text
    text = feed(shell, out, "as erin\n/approve check realtime-features code-readiness 1\n")
    assert "Checked “All tests passing" in text

    report = feed(shell, out, "/rollout report realtime-features\n")
    assert "- [x] Code review completed — Engineering Lead, checked by erin" in report
    assert "- [ ] Security audit passed — Security Lead" in report
    assert "| CTO | carl | approved via shell |" in report
    assert "pen test still open" in report

    with rb.db.session() as s:
        actions = [e.action for e in audit.events(s, subject_id=FLAG)]
    assert actions.count("signoff.approved") == 5
    assert actions.count("signoff.rejected") == 1
    assert actions.count("checklist.checked") == 3
