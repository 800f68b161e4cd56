"""A whole incident typed in the shell: the same `/incident` commands as in Slack."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.container import Rollbot
from bot.shell.chat import ShellChat
from tests.conftest import Providers
from tests.fakes.incidents import FakeStatusPage
from tests.test_shell import Session, chat, clock, rb  # noqa: F401  (fixtures)


@pytest.fixture
def providers(status_page: FakeStatusPage) -> Providers:
    """The fake is the only status page."""
    return Providers(status_pages=[status_page])


def test_declare_update_publish_resolve_in_the_shell(
    rb: Rollbot,  # noqa: F811
    clock: ManualClock,  # noqa: F811
    chat: ShellChat,  # noqa: F811
    status_page: FakeStatusPage,
) -> None:
    page = status_page
    sh = Session(rb, chat, user="alice")
    out = sh.feed("/incident declare sev2 Checkout errors\n")
    assert "opened #inc-20261102-checkout-errors" in out
    assert "SEV2: Checkout errors (open)" in out
    assert "draft status update (investigating)" in out and "/incident publish" in out
    out = sh.feed("/incident publish\n")
    assert "Status update published by alice" in out and len(page.published) == 1
    clock.advance(timedelta(minutes=7))
    out = sh.feed("/incident update identified Bad deploy of api 4.2\n")
    assert "Status is now *identified*" not in out and "Status is now identified" in out
    sh.feed("/incident note restarted api-7\n")
    out = sh.feed("/incident timeline\n")
    assert "note: restarted api-7" in out and "status_published" in out
    out = sh.feed("/incident resolve Rolled back\n")
    assert "uploaded postmortem-inc-20261102-1-checkout-errors.md" in out
    assert [u.status for u in page.published] == ["investigating", "identified", "resolved"]
    out = sh.feed("/incident list\n")
    assert "SEV2 Checkout errors" in out and "resolved" in out
    assert "resolved, resolved" not in out
    out = sh.feed("/incident help\n")
    assert "(in Slack, without arguments: a form)" in out
    out = sh.feed("/incident postmortem done\n")
    assert "Post-mortem marked done" in out
    assert sh.code == 0


def test_the_post_mortem_is_a_file_and_can_be_read_in_the_shell(
    rb: Rollbot,  # noqa: F811
    chat: ShellChat,  # noqa: F811
    tmp_path: Path,
) -> None:
    chat.incidents.folder = tmp_path / "postmortems"  # as `rollbot shell` sets it
    sh = Session(rb, chat, user="alice")
    sh.feed("/incident declare sev2 Checkout errors\n/incident publish\n")
    out = sh.feed("/incident resolve Rolled back\n")
    (draft,) = (tmp_path / "postmortems").iterdir()
    assert f"wrote {draft}" in out
    assert draft.read_text(encoding="utf-8").startswith("# Post-mortem: Checkout errors")
    out = sh.feed("/incident postmortem\n")
    assert "# Post-mortem: Checkout errors" in out and "## Summary" in out


def test_oncall_and_paging_a_contact_in_the_shell(
    tmp_path: Path,
    clock: ManualClock,  # noqa: F811
    chat: ShellChat,  # noqa: F811
) -> None:
    from bot.config.settings import load_settings
    from bot.container import build
    from tests.conftest import NO_GATES, PLANS_DIR

    config = tmp_path / "contacts.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {PLANS_DIR}\n"
        + NO_GATES
        + "contacts:\n  - {name: noc, title: NOC, email: noc@example.com, slack_user: U0NOC}\n",
        encoding="utf-8",
    )
    settings = load_settings(env={"DATABASE_URL": f"sqlite:///{tmp_path}/c.db"}, config_path=config)
    bot = build(settings, clock=clock, chat=chat.ports, status_pages=[FakeStatusPage()])
    try:
        sh = Session(bot, chat, user="alice")
        out = sh.feed("/oncall\n")
        assert "NOC (`noc`): @U0NOC · noc@example.com" in out
        assert "*" not in out  # the shell writes no mrkdwn
        sh.feed("/incident declare sev2 Checkout errors\n")
        out = sh.feed("/incident page noc\n")
        assert "Paged NOC." in out  # no PagerDuty here: brought in by the shell only
        out = sh.feed("/incident status\n")
        assert "contacts: NOC (`noc`): @U0NOC" in out
        assert "noc@example.com" not in out  # a public channel: no contact details
    finally:
        bot.db.dispose()
