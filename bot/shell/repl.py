"""The shell: type the Slack commands and press the card buttons in a terminal.

One line is one input. Slash commands run the same code as in Slack (`run_rollout`, the
same service methods behind the buttons), as the person named with `as <name>`. Cards and
thread events are printed by the `ShellNotifier`, also when the scheduler moves a rollout.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import re
import sys
from collections.abc import Callable
from typing import TextIO

from bot.commands.incident import run_incident
from bot.commands.oncall import run_oncall
from bot.commands.reply import Reply
from bot.commands.rollback import report_text, run_rollback_direct
from bot.commands.rollout import run_rollout
from bot.container import Rollbot
from bot.domain.actions import ROLLBACK_DECISIONS, Action
from bot.domain.actor import Actor, Via
from bot.domain.errors import RollbotError
from bot.domain.flag import is_valid_flag_key
from bot.services.rollouts.reading import Outcome
from bot.services.rollouts.views import (
    Button,
    RolloutView,
)
from bot.shell.chat import ShellChat
from bot.shell.digest import DigestText
from bot.shell.incident_chat import render_incident
from bot.shell.notifier import SHELL_CHANNEL
from bot.shell.render import plain_text, render_buttons, render_card, render_reply
from bot.shell.signoff import SIGNOFF_ACTIONS, ShellSignoff
from bot.shell.text import text as message_text

log = logging.getLogger(__name__)

COMMANDS = ("/rollout", "/approve", "/rollback", "/incident", "/oncall")

QUIT = ("quit", "exit", "/quit", "/exit")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")

HELP = """You are in the rollbot shell: the same commands and buttons as in Slack.

  /rollout <subcommand>       run a rollout command (`/rollout help` lists them), e.g.
                                /rollout start realtime-features
                                /rollout status realtime-features
  /approve [<subcommand>]     sign-offs waiting for you, a rollout's approval chain or
                                its checklists (`/approve help`); sign with the buttons:
                                press approve      press reject (then type the reason)
                                press check <item> (after `/approve checklist <flag>`)
  /rollback <flag> [runbook] [reason]
                              without a reason: show the runbook that would run (and the
                                plan's other runbooks); with one: run it now (the full
                                rollback turns the flag off first; a partial runbook, e.g.
                                restart, leaves the rollout running, paused)
  /incident <subcommand>      run an incident command (`/incident help` lists them); they
                                act on the incident declared last, e.g.
                                /incident declare sev2 Checkout errors
                                /incident update identified Bad deploy
  /oncall                     who is on call now and how to reach each emergency contact
  press <button> [<flag>]     press a button on the latest card shown (or on that flag's
                                card); the start of its label is enough, any case, e.g.
                                press advance      press pause realtime-features
  cards                       show the cards of the rollouts in progress
  as <name>                   act as someone else (recorded in the audit trail)
  whoami                      who you are acting as
  help                        this help
  quit, exit                  leave (end of input does too)
"""

USAGE_PRESS = "Usage: press <button label> [<flag>], e.g. `press advance` or `press pause my-flag`."


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Shell:
    """A terminal chat for one rollbot: `Shell(rollbot, chat, stdin, user).run()`.

    `rollbot` was built with `chat.ports`, so every card and event (including those of the
    scheduler thread) prints on `chat.out`; the shell listens to them to know each flag's
    latest buttons.
    """

    def __init__(self, rollbot: Rollbot, chat: ShellChat, stdin: TextIO, user: str = "you") -> None:
        self.rollbot = rollbot
        self.stdin = stdin
        self.stdout = chat.out
        self.user = user
        self.notifier = chat.notifier
        self.notifier.on_view = self._remember
        self.notifier.on_event = self._heard
        self._lock = self.notifier.lock  # one lock for output and for what the shell knows
        self._views: dict[str, RolloutView] = {}  # latest view of each flag
        self._latest: str | None = None  # flag of the card shown last
        self._shown: set[int] = set()  # rollouts whose card printed during the current input
        self._events: list[str] = []  # events printed during the current input
        self.signoff: ShellSignoff | None = None
        if rollbot.signoffs is not None:
            self.signoff = ShellSignoff(rollbot.signoffs, self.say)
        self._incident_channel: str | None = None  # where `/incident` commands run
        # What the current input counts as in rollbot's metrics (`rollbot_commands_total`):
        # a slash command, a button (`button:advance`) or the Reject form's reason line.
        self._counted: str | None = None
        self._refused = False

    @property
    def actor(self) -> Actor:
        """Who the shell's changes are made by."""
        return Actor(self.user, Via.SHELL)

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> int:
        """Read and run lines until end of input or `quit`; return the exit code.

        0 when the input ends or on `quit`/`exit`; 130 on Ctrl-C. Bad input never ends it.
        """
        interactive = _isatty(self.stdin)
        use_input = interactive and self.stdin is sys.stdin and self.stdout is sys.stdout
        if use_input:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401  (line editing and history for input())
        if interactive:
            self.say("rollbot shell: type `help` for what you can do, `quit` to leave.")
        while True:
            prompt = f"rollbot (as {self.user})> "
            try:
                if use_input:
                    try:
                        line = input(prompt) + "\n"
                    except EOFError:
                        line = ""
                else:
                    if interactive:
                        with self._lock:
                            self.stdout.write(prompt)
                            self.stdout.flush()
                    line = self.stdin.readline()
                if not line:
                    if interactive:
                        self.say("")
                    return 0
                if not self.execute(line):
                    return 0
            except KeyboardInterrupt:
                self.say("")
                return 130

    def execute(self, line: str) -> bool:
        """Run one input line; False when it asks to leave. Never raises for bad input."""
        text = line.strip()
        if not text:
            return True
        word, _, rest = text.partition(" ")
        word, rest = word.lower(), rest.strip()
        if word in QUIT:
            return False
        with self._lock:
            self._shown.clear()
            self._events.clear()
        self._counted, self._refused = (word if word in COMMANDS else None), False
        outcome = "ok"
        try:
            self._dispatch(word, rest, text)
        except RollbotError as exc:
            outcome = "refused"
            self._refuse(exc)
        except Exception as exc:
            outcome = "error"
            log.debug("shell input %r failed", text, exc_info=True)
            self.say(f"error: {type(exc).__name__}: {exc} (nothing else happened; carry on)")
        if self._counted is not None:
            refused = outcome == "ok" and self._refused
            self.rollbot.telemetry.command(self._counted, "refused" if refused else outcome)
        return True

    def _dispatch(self, word: str, rest: str, text: str) -> None:
        if self.signoff is not None and self.signoff.pending_reject is not None:
            self._counted = "form:reject"
            self.signoff.reason(text, self.actor)  # the line after [Reject] is the reason
        elif word in ("help", "/help", "?"):
            self.say(HELP)
        elif word == "/rollout":
            self._rollout(rest)
        elif word == "/approve" and self.signoff is not None:
            self._refused = self.signoff.approve_command(rest, self.actor)
        elif word == "/rollback":
            reply = run_rollback_direct(rest, self.actor, self.rollbot.rollback)
            self._refused = reply.error
            self.say(render_reply(reply))
        elif word == "/incident":
            self._incident(rest)
        elif word == "/oncall":
            answer = run_oncall(rest, self.rollbot.incidents)
            self._refused = answer.error
            self.say(render_reply(Reply(answer.text, error=answer.error, message=answer.message)))
        elif word in ("as", "/as"):
            self._switch(rest)
        elif word in ("whoami", "/whoami"):
            self.say(f"You are {self.user}.")
        elif word in ("press", "/press"):
            self._press(rest)
        elif word in ("cards", "/cards"):
            self._cards()
        elif "/" + word in COMMANDS:
            self.say(f"Unknown input `{text}`. Did you mean `/{text}`? Type `help` for more.")
        elif close := difflib.get_close_matches("/" + word.lstrip("/"), COMMANDS, n=1):
            fixed = close[0] + (f" {rest}" if rest else "")
            self.say(f"Unknown input `{text}`. Did you mean `{fixed}`? Type `help` for more.")
        else:
            self.say(f"Unknown input `{text}`. Type `help` for what you can do.")

    # -- commands ------------------------------------------------------------------------

    def _rollout(self, rest: str) -> None:
        reply = run_rollout(
            rest,
            self.actor,
            self.rollbot.rollouts,
            channel_id=SHELL_CHANNEL,
            extra=self.rollbot.rollout_subcommands,
        )
        self._refused = reply.error
        if reply.digest is not None:
            self.say(DigestText(self.rollbot.templates_dir).render(reply.digest))
            return
        with self._lock:
            shown, events = set(self._shown), list(self._events)
        for view in reply.views:
            self._remember(view)
        text = render_reply(reply)
        if text and not self._repeats(reply, text, events):
            self.say(text)
        for view in reply.views:
            if view.id not in shown:
                self.say(render_card(view))

    def _incident(self, rest: str) -> None:
        service = self.rollbot.incidents
        channel = self._incident_channel
        if channel is None:
            open_ones = [v for v in service.incidents() if v.active and v.channel_id]
            channel = open_ones[-1].channel_id if open_ones else None
        reply = run_incident(rest, self.actor, service, channel_id=channel)
        self._refused = reply.error
        if reply.incident is not None and rest.split()[:1] == ["declare"]:
            self._incident_channel = reply.incident.channel_id
        self.say(render_reply(Reply(reply.text, error=reply.error, message=reply.message)))
        for event in reply.timeline:
            self.say(f"  {event.at:%H:%M:%S} {event.kind.value}: {message_text(event.message)}")
        if reply.incident is not None and rest.split() == ["postmortem"] and not reply.error:
            # Slack gets the draft as a file in the channel; here it is read where it is typed.
            self.say(service.render_postmortem_of(reply.incident.id))
        if reply.incident is not None and rest.split()[:1] == ["status"]:
            self.say(render_incident(reply.incident))

    def _switch(self, rest: str) -> None:
        if not rest:
            self.say(f"Usage: as <name>. You are {self.user}.")
        elif not NAME_PATTERN.match(rest):
            self.say(
                f"`{rest}` cannot be a name: use one word of letters, digits, '.', '_', '-', "
                f"'@' or '+' (at most 64). You are still {self.user}."
            )
        else:
            self.user = rest
            self.say(f"You are now {rest}.")

    def _cards(self) -> None:
        views = self.rollbot.rollouts.active()
        if not views:
            self.say("No rollout is in progress. Start one with `/rollout start <flag>`.")
            return
        for view in views:
            self._remember(view)
            self.say(render_card(view))

    def _press(self, rest: str) -> None:
        words = rest.split()
        if not words:
            self.say(USAGE_PRESS + self._buttons_hint())
            return
        extra = self.signoff.buttons if self.signoff is not None else []
        checks = _matching_in(extra, " ".join(words))
        if self.signoff is not None and len(checks) == 1:
            self._counted = f"button:{checks[0].action}"
            self.say(f"{self.user} pressed [{checks[0].label}].")
            self.signoff.press(checks[0], self.actor)
            return
        view, label = self._card_for(words)
        if view is None:
            return
        button = self._find_button(view, label)
        if button is None:
            return
        self._counted = f"button:{button.action}"
        if button.action in SIGNOFF_ACTIONS and self.signoff is not None:
            self.say(f"{self.user} pressed [{button.label}] on the `{view.flag_key}` card.")
            self.signoff.press(button, self.actor)
            return
        value = json.loads(button.value)
        if button.action in ROLLBACK_DECISIONS:
            self.say(f"{self.user} pressed [{button.label}] on the `{view.flag_key}` card.")
            report = self.rollbot.rollback.decide(
                int(value["rollback"]), ROLLBACK_DECISIONS[button.action], self.actor
            )
            self.say(render_reply(Reply(report_text(report))))
            return
        service = self.rollbot.rollouts
        actions: dict[str, Callable[[str, Actor, int | None], Outcome]] = {
            Action.ADVANCE: service.advance,
            Action.PAUSE: service.pause,
            Action.RESUME: service.resume,
        }
        action = actions.get(button.action)
        if action is None:
            self.say(f"The [{button.label}] button does nothing in the shell yet.")
            return
        flag_key = service.flag_for_rollout(int(value["rollout"]))
        self.say(f"{self.user} pressed [{button.label}] on the `{flag_key}` card.")
        action(flag_key, self.actor, int(value["step"]))

    def _card_for(self, words: list[str]) -> tuple[RolloutView | None, str]:
        """The card a `press` means, and the label typed (None when there is no card)."""
        with self._lock:
            views, latest = dict(self._views), self._latest
        flag: str | None = None
        label = " ".join(words)
        if len(words) > 1:
            last = words[-1]
            on_latest = latest is not None and bool(_matching(views[latest], label))
            if last in views or (is_valid_flag_key(last) and not on_latest):
                flag, label = last, " ".join(words[:-1])
        if flag is None:
            if latest is None:
                self.say(
                    "No card has been shown yet, so there is no button to press. "
                    "Start a rollout with `/rollout start <flag>`, or show the cards of the "
                    "rollouts in progress with `cards`."
                )
                return None, label
            return views[latest], label
        if flag in views:
            return views[flag], label
        view = self.rollbot.rollouts.status(flag)  # NotFound says which flags have rollouts
        self._remember(view)
        return view, label

    def _find_button(self, view: RolloutView, label: str) -> Button | None:
        if not view.buttons:
            self.say(
                f"The `{view.flag_key}` card has no buttons: the rollout is "
                f"{view.state.value.replace('_', ' ')}."
            )
            return None
        found = _matching(view, label)
        if len(found) == 1:
            return found[0]
        if found:
            names = " ".join(f"[{b.label}]" for b in found)
            self.say(f"`{label}` matches several buttons: {names}. Type more of the label.")
        else:
            self.say(
                f"The `{view.flag_key}` card has no button `{label}`. "
                f"Its buttons: {render_buttons(view)}."
            )
        return None

    # -- what the shell knows --------------------------------------------------------------

    def _remember(self, view: RolloutView) -> None:
        """Keep the newest view of each flag (called from any thread)."""
        with self._lock:
            known = self._views.get(view.flag_key)
            if known is None or (view.id, view.version) >= (known.id, known.version):
                self._views[view.flag_key] = view
            self._latest = view.flag_key
            self._shown.add(view.id)

    def _heard(self, view: RolloutView, text: str) -> None:
        with self._lock:
            self._events.append(plain_text(text))

    def _buttons_hint(self) -> str:
        with self._lock:
            view = self._views.get(self._latest) if self._latest else None
        if view is None or not view.buttons:
            return ""
        return f" Buttons on the `{view.flag_key}` card: {render_buttons(view)}."

    # -- output --------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """Print a line (or several) without interleaving with the scheduler's output."""
        self.notifier.write(text)

    def _refuse(self, exc: RollbotError) -> None:
        lines = [f"! {message_text(exc.message)}"]
        if exc.hint:
            lines.append(f"  {message_text(exc.hint)}")
        self.say("\n".join(lines))

    @staticmethod
    def _repeats(reply: Reply, text: str, events: list[str]) -> bool:
        """True when the reply only repeats events the thread just printed."""
        if reply.error or not events:
            return False
        lines = [line for line in text.splitlines() if line.strip()]
        return all(any(line.endswith(event) for event in events) for line in lines)


def _matching(view: RolloutView, label: str) -> list[Button]:
    """The buttons `label` names: an exact label (any case), else those it begins."""
    return _matching_in(view.buttons, label)


def _matching_in(buttons: list[Button], label: str) -> list[Button]:
    typed = label.strip().strip("[]").strip().lower()
    if not typed:
        return []
    exact = [b for b in buttons if b.label.lower() == typed]
    return exact or [b for b in buttons if b.label.lower().startswith(typed)]
