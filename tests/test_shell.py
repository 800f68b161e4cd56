"""The shell adapter: commands and buttons typed on stdin, cards and events on stdout."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.commands.reply import Reply
from bot.config.settings import load_settings
from bot.container import Rollbot, build
from bot.domain.actions import Action
from bot.domain.actor import Actor, Via
from bot.domain.message import Mention, Message, Strong
from bot.domain.rollout import RolloutState
from bot.services.rollouts.events import RolloutWait
from bot.services.rollouts.notifier import CardLocation
from bot.services.rollouts.views import Button, RolloutView
from bot.shell.chat import ShellChat
from bot.shell.notifier import ShellNotifier
from bot.shell.render import plain_text, render_card, render_reply
from bot.shell.repl import Shell
from bot.store import audit
from tests.conftest import NO_GATES, Providers

PLANS_DIR = (Path(__file__).resolve().parent.parent / "config" / "plans").resolve()
FLAG = "realtime-features"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def chat() -> ShellChat:
    return ShellChat(io.StringIO())


@pytest.fixture
def rb(
    tmp_path: Path, clock: ManualClock, chat: ShellChat, providers: Providers
) -> Iterator[Rollbot]:
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        f"rollouts:\n  plans_dir: {PLANS_DIR}\n  default_plan: realtime-features\n" + NO_GATES,
        encoding="utf-8",
    )
    settings = load_settings(env={"DATABASE_URL": f"sqlite:///{tmp_path}/r.db"}, config_path=config)
    bot = providers.build(settings, clock, chat.ports)
    try:
        yield bot
    finally:
        bot.db.dispose()


class Session:
    """One shell kept across several batches of input, so it remembers the cards shown."""

    def __init__(self, rb: Rollbot, chat: ShellChat, user: str = "you") -> None:
        self.out = chat.out
        assert isinstance(self.out, io.StringIO)
        self.shell = Shell(rb, chat, io.StringIO(""), user=user)
        self.code: int | None = None

    def feed(self, text: str) -> str:
        """Run `text` through stdin; return what was printed for it."""
        start = len(self.out.getvalue())
        self.shell.stdin = io.StringIO(text)
        self.code = self.shell.run()
        return self.out.getvalue()[start:]


@pytest.fixture
def sh(rb: Rollbot, chat: ShellChat) -> Session:
    return Session(rb, chat)


def state(rb: Rollbot) -> tuple[str, int, int, int]:
    view = rb.rollouts.status(FLAG)
    return view.state.value, view.step_number, view.percentage, view.version


def audit_count(rb: Rollbot) -> int:
    with rb.db.session() as session:
        return len(audit.events(session, subject_id=FLAG))


# -- the walk through a rollout ---------------------------------------------------------


def test_start_prints_the_card_at_zero_percent_in_phase_one(sh: Session) -> None:
    out = sh.feed(f"/rollout start {FLAG}\n")
    assert "Percentage:  0%" in out
    assert "Phase 1" in out
    # The shipped plan's next step is staff: 0% for everyone, the internal segment at 100%
    assert "[Advance to 0% (internal 100%)] [Pause]" in out
    assert f"[{FLAG} thread] you started the rollout" in out
    assert "*" not in out  # mrkdwn bold is gone
    assert out.count("== realtime-features") == 1  # the card once, not again from the reply
    assert sh.code == 0


def test_press_advance_pause_as_bob_and_resume(rb: Rollbot, sh: Session) -> None:
    sh.feed(f"/rollout start {FLAG}\n")

    out = sh.feed("press advance\n")
    assert "you pressed [Advance to 0% (internal 100%)]" in out
    assert "Segments: internal 100%; everyone else 0%" in out
    assert state(rb)[:3] == ("running", 2, 0)
    out = sh.feed("press advance\n")
    assert "you pressed [Advance to 5%]" in out
    assert "Percentage:  5%" in out
    assert state(rb)[:3] == ("running", 3, 5)

    out = sh.feed(f"as bob\n/rollout pause {FLAG}\n")
    assert "You are now bob" in out
    assert "bob paused the rollout at 5%" in out
    assert "[Resume]" in out
    assert state(rb)[0] == "paused"
    with rb.db.session() as session:
        paused = audit.events(session, subject_id=FLAG, action="rollout.paused")
    assert [(e.actor, e.via) for e in paused] == [("bob", "shell")]

    out = sh.feed("press resume\n")
    assert "bob resumed the rollout at 5%" in out
    assert state(rb)[0] == "running"
    with rb.db.session() as session:
        events = audit.events(session, subject_id=FLAG)
    actors = [(e.action, e.actor) for e in events if e.subject_type == "rollout"]
    assert actors == [
        ("rollout.started", "you"),
        ("rollout.advanced", "you"),
        ("rollout.advanced", "you"),
        ("rollout.paused", "bob"),
        ("rollout.resumed", "bob"),
    ]


def test_press_names_a_flag_and_accepts_case_and_brackets(rb: Rollbot, sh: Session) -> None:
    sh.feed(f"/rollout start {FLAG}\n")
    out = sh.feed(f"/as carol\nwhoami\nPRESS [pause] {FLAG}\n")
    assert "You are now carol" in out
    assert "You are carol" in out
    assert "carol paused the rollout" in out
    assert state(rb)[0] == "paused"


def test_press_on_a_flag_whose_card_was_not_shown_loads_it(rb: Rollbot, sh: Session) -> None:
    rb.rollouts.start(FLAG, None, Actor("U1", Via.SLACK), "C1")  # started elsewhere
    out = sh.feed(f"press pause {FLAG}\n")
    assert "paused the rollout at 0%" in out
    assert state(rb)[0] == "paused"


def test_status_prints_the_card_and_cards_reprints_active_ones(sh: Session) -> None:
    assert "No rollout is in progress" in sh.feed("cards\n")
    sh.feed(f"/rollout start {FLAG}\n")
    out = sh.feed(f"/rollout status {FLAG}\n")
    assert f"`{FLAG}` — running, 0%" in out
    assert "== realtime-features" in out
    out = sh.feed("cards\n")
    assert out.count("== realtime-features") == 1
    assert "[Advance to 0% (internal 100%)] [Pause]" in out


# -- refusals -----------------------------------------------------------------------------


def test_press_of_a_label_not_on_the_card_lists_the_labels(rb: Rollbot, sh: Session) -> None:
    sh.feed(f"/rollout start {FLAG}\n")
    before = state(rb)
    out = sh.feed("press resume\n")
    assert f"The `{FLAG}` card has no button `resume`" in out
    assert "[Advance to 0% (internal 100%)] [Pause]" in out
    assert state(rb) == before


def test_press_before_any_card_says_how_to_get_one(sh: Session) -> None:
    out = sh.feed("press advance\n")
    assert "No card has been shown yet" in out
    assert "/rollout start <flag>" in out


def test_bad_inputs_print_clear_messages_and_change_nothing(rb: Rollbot, sh: Session) -> None:
    sh.feed(f"/rollout start {FLAG}\n")
    before, events = state(rb), audit_count(rb)
    cases = {
        "blah blah": "Unknown input `blah blah`. Type `help`",
        "/frobnicate": "Unknown input `/frobnicate`",
        "rollout status": "Did you mean `/rollout status`?",
        "/rollout bogus": "! `bogus` is not a /rollout subcommand.",
        "/rollout sett": "Did you mean `set`?",
        "/rolout status": "Did you mean `/rollout status`?",
        "/rollout advance": "`/rollout advance` needs a flag key.",
        f"/rollout set {FLAG} lots": "`lots` is not a whole number from 0 to 100.",
        f"/rollout start {FLAG}": f"`{FLAG}` already has a rollout in progress",
        "/rollout pause no-such-flag": "No rollout for `no-such-flag`.",
        # Without a reason /rollback only shows what would run (the modal's part in Slack).
        "/rollback realtime-features": "To run it, give the reason: `/rollback",
        "/rollback no-such-flag oops": "`no-such-flag` has no rollout to roll back.",
        "/rollback": "Usage: `/rollback <flag> [runbook] [reason]`",
        "/approve no-such-flag": "No rollout for `no-such-flag`.",
        "/incident declare": "`/incident declare` needs a severity and a title.",
        "/incident note hi": "works in an incident's own channel",
        "press": "Usage: press <button label> [<flag>]",
        "press pause no-such-flag": "No rollout for `no-such-flag`.",
        "as": "Usage: as <name>",
        "as two words": "`two words` cannot be a name",
    }
    for line, expected in cases.items():
        out = sh.feed(line + "\n")
        assert expected in out, (line, out)
        assert "*Usage:*" not in out, (line, out)  # Slack's bold stays out of the terminal
        assert sh.code == 0
    assert "Usage: `/rollout <subcommand>`" in sh.feed("/rollout bogus\n")
    assert state(rb) == before
    assert audit_count(rb) == events
    assert "You are you" in sh.feed("whoami\n")


def test_a_stale_button_is_refused(rb: Rollbot, sh: Session) -> None:
    sh.feed(f"/rollout start {FLAG}\n")
    # Someone advances from Slack (another rollbot on the same database): the shell does not
    # hear it, so its button is the one from before.
    slack_side = build(rb.settings, clock=rb.clock)
    try:
        slack_side.rollouts.advance(FLAG, Actor("U1", Via.SLACK), expected_step=0)
    finally:
        slack_side.db.dispose()
    before = state(rb)
    out = sh.feed("press advance\n")
    assert "! That button is out of date" in out
    assert "Nothing was changed" in out
    assert state(rb) == before


def test_an_unexpected_error_prints_one_line_and_the_shell_goes_on(
    rb: Rollbot, sh: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> list[RolloutView]:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(rb.rollouts, "active", broken)
    out = sh.feed("cards\nwhoami\n")
    assert "error: RuntimeError: database on fire" in out
    assert "Traceback" not in out
    assert "You are you" in out
    assert sh.code == 0


# -- the loop ------------------------------------------------------------------------------


def test_quit_and_exit_stop_reading_and_blank_lines_are_ignored(sh: Session) -> None:
    out = sh.feed("\n   \nwhoami\nquit\nas bob\n")
    assert out == "You are you.\n"
    assert sh.code == 0
    out = sh.feed("EXIT\nwhoami\n")
    assert out == ""


def test_help_lists_everything(sh: Session) -> None:
    out = sh.feed("help\n")
    for word in ("/rollout", "press", "cards", "as <name>", "whoami", "quit", "/rollback"):
        assert word in out


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_prompt_only_on_a_terminal(rb: Rollbot, chat: ShellChat) -> None:
    assert isinstance(chat.out, io.StringIO)
    Shell(rb, chat, io.StringIO("whoami\n")).run()
    assert "rollbot (as" not in chat.out.getvalue()

    start = len(chat.out.getvalue())
    code = Shell(rb, chat, FakeTTY("whoami\nas bob\n"), user="ann").run()
    text = chat.out.getvalue()[start:]
    assert "rollbot (as ann)> You are ann." in text
    assert "rollbot (as bob)> " in text
    assert code == 0


def test_cards_from_the_scheduler_thread_update_the_buttons(
    rb: Rollbot, sh: Session, clock: ManualClock
) -> None:
    sh.feed(f"/rollout start {FLAG}\npress advance\n")  # staff bakes 1 day, then auto-advances
    clock.advance(timedelta(days=1, seconds=1))
    worker = threading.Thread(target=rb.rollouts.advance_due)
    worker.start()
    worker.join()
    assert "bake time passed, advanced from 0% to 5%" in sh.out.getvalue()
    out = sh.feed("press advance\n")
    assert "pressed [Advance to 25%]" in out
    assert state(rb)[2] == 25


# -- rendering and the notifier ------------------------------------------------------------


def test_plain_text_converts_mrkdwn_but_not_code() -> None:
    assert plain_text("*Started* by <@U123> in <#C1|ops>") == "Started by @U123 in #ops"
    assert plain_text(":warning: `/rollout start <flag>` *now*") == "! `/rollout start <flag>` now"
    assert plain_text("see <https://x.io|docs> &amp; `a *b* c`") == (
        "see docs (https://x.io) & `a *b* c`"
    )
    assert plain_text("2 * 3 * 4") == "2 * 3 * 4"
    assert render_reply(Reply(":warning: No.\nTry *this*.", error=True)) == "! No.\nTry this."


def _view(**changes: object) -> RolloutView:
    base: dict[str, object] = {
        "id": 7,
        "flag_key": "checkout",
        "plan_name": "p",
        "plan_title": "*Plan*",
        "state": RolloutState.RUNNING,
        "phase_name": "Phase 2: Beta",
        "phase_number": 2,
        "phase_count": 3,
        "step_name": "Ten percent",
        "step_number": 2,
        "step_count": 5,
        "percentage": 10,
        "started_by": "ann",
        "started_at": datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
        "next_step": "Quarter",
        "next_percentage": 25,
        "due_at": datetime(2026, 1, 2, 8, 30, tzinfo=UTC),
        "auto_advance": True,
        "waiting_for": RolloutWait(RolloutState.RUNNING, True, True, timedelta(minutes=30)),
        "channel_id": None,
        "message_ts": None,
        "version": 3,
        "buttons": [
            Button("Advance to 25%", Action.ADVANCE, '{"rollout": 7, "step": 1}'),
            Button("Pause", Action.PAUSE, '{"rollout": 7, "step": 1}'),
        ],
    }
    base.update(changes)
    return RolloutView(**base)  # type: ignore[arg-type]


def test_render_card_shows_every_field() -> None:
    card = render_card(_view())
    for part in (
        "checkout: Plan (plan p)",
        "State:       running",
        "Phase 2: Beta (2/3)",
        "Step:        2/5 Ten percent",
        "Percentage:  10%",
        "Quarter (25%), advances by itself at 2026-01-02 08:30 UTC",
        "Waiting for: Baking: advances by itself in 30m.",
        "Started by:  ann at 2026-01-01 08:00 UTC",
        "[Advance to 25%] [Pause]",
    ):
        assert part in card, part
    done = render_card(_view(state=RolloutState.COMPLETED, next_step=None, buttons=[]))
    assert "(no buttons)" in done
    held = render_card(_view(held=(Message("sign-off ", Strong("Go")), Message("open: “a”"))))
    assert "Waiting for: Baking: advances by itself in 30m. Held: sign-off Go; open: “a”." in held


def test_notifier_places_cards_in_the_shell_but_leaves_slack_cards_alone() -> None:
    out = io.StringIO()
    notifier = ShellNotifier(out)
    assert notifier.show_card(_view()) == CardLocation("shell", "7")
    assert notifier.show_card(_view(channel_id="shell", message_ts="7")) == CardLocation(
        "shell", "7"
    )
    assert notifier.show_card(_view(channel_id="C1", message_ts="1.2")) is None
    notifier.post_event(_view(), Message(Mention("U1"), " paused ", Strong("it")))
    assert out.getvalue().endswith("[checkout thread] @U1 paused it\n")


def test_a_card_is_printed_again_only_when_it_changed() -> None:
    out = io.StringIO()
    notifier = ShellNotifier(out)
    notifier.show_card(_view())
    printed = out.getvalue()
    notifier.show_card(_view())  # e.g. a probe result that changes nothing on the card
    assert out.getvalue() == printed
    notifier.show_card(_view(percentage=25))
    assert out.getvalue() != printed and "25%" in out.getvalue()[len(printed) :]


def test_notifier_never_interleaves_lines_from_threads() -> None:
    out = io.StringIO()
    notifier = ShellNotifier(out)
    view = _view()

    def post(n: int) -> None:
        for i in range(50):
            notifier.post_event(view, f"event {n}-{i}")

    threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 400
    assert all(line.startswith("[checkout thread] event ") for line in lines)


def test_refusals_name_the_flag_and_every_subcommand(rb: Rollbot, sh: Session) -> None:
    sh.feed(f"/rollout start {FLAG}\n/rollout pause {FLAG}\n")
    out = sh.feed(f"/rollout pause {FLAG}\n")
    assert f"Resume it with `/rollout resume {FLAG}`" in out and "<flag>" not in out
    out = sh.feed("/rollout sett\n")
    assert "`report`" in out and "`set`" in out
    out = sh.feed(f"/rollout set {FLAG} 5.5\n")
    assert "`5.5` is not a whole number from 0 to 100" in out
