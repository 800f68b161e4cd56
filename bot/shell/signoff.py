"""The sign-off chain in the shell: direct messages printed as `[DM to <name>]`, `/approve`,
and the Approve / Reject / Check buttons (Reject asks for the reason on the next line, as
Slack's modal does)."""

from __future__ import annotations

from collections.abc import Callable

from bot.commands.approve import ApproveReply, run_approve
from bot.domain.actions import Action
from bot.domain.actor import Actor
from bot.services.events import Said
from bot.services.rollouts.views import Button
from bot.services.signoff.feature import Signoffs
from bot.services.signoff.ports import (
    Ask,
    CheckButton,
    MessageRef,
    SignButton,
)
from bot.shell.render import plain_text, render_reply, terminal_text
from bot.shell.text import text
from bot.wording import signoff

SIGNOFF_ACTIONS = frozenset({Action.APPROVE, Action.REJECT, Action.CHECK})


class ShellSignoffNotifier:
    """A `SignoffNotifier` printing through the shell's writer (one lock for all output)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self._sent = 0

    def ask(self, user_id: str, ask: Ask) -> MessageRef | None:
        """Print the ask with its buttons."""
        self._sent += 1
        note = signoff.ask_note(ask)
        metrics = signoff.metric_readings(ask.metrics)
        lines = [
            f"[DM to {user_id}] {text(signoff.ask_headline(ask))}.",
            f"   Rollout: {ask.flag_key} ({ask.plan_title}), {ask.phase_name}, "
            f"{ask.step_name} ({ask.percentage}%), requested by {ask.requester}",
        ]
        if note:
            lines.append(f"   {plain_text(note)}")
        lines += [f"   {line}" for line in text(signoff.chain_lines(ask.chain)).splitlines()]
        checklists = signoff.open_checklists(ask.checklists)
        lines += [f"   {line}" for line in plain_text(checklists).splitlines()]
        if metrics:
            lines.append("   Current metrics:")
            lines += [f"   {line}" for line in plain_text(metrics).splitlines()]
        lines.append(f"   [Approve as {ask.role_name}] [Reject as {ask.role_name}]")
        self.write("\n".join(lines))
        return {"channel": f"shell-dm:{user_id}", "ts": str(self._sent)}

    def close(self, ref: MessageRef, message: Said) -> None:
        """Say that an earlier ask is closed."""
        user = ref.get("channel", "").removeprefix("shell-dm:")
        self.write(f"[DM to {user}] (request closed) {terminal_text(message)}")

    def tell(self, user_id: str, message: Said) -> None:
        """Print a direct message."""
        self.write(f"[DM to {user_id}] {terminal_text(message)}")


class ShellSignoff:
    """What the shell does for `/approve` and the sign-off buttons."""

    def __init__(self, signoffs: Signoffs, write: Callable[[str], None]) -> None:
        self.signoffs = signoffs
        self.write = write
        self.buttons: list[Button] = []  # Check buttons of the last `/approve checklist`
        self.pending_reject: SignButton | None = None

    def approve_command(self, text: str, actor: Actor) -> bool:
        """Run `/approve <text>` and print the answer (checklist items with their buttons);
        True when the answer was a refusal."""
        reply = run_approve(text, actor, self.signoffs)
        out = [render_reply(reply)]
        if isinstance(reply, ApproveReply) and reply.items:
            self.buttons = [line.button for line in reply.items if line.button is not None]
            for line in reply.items:
                label = f"  [{line.button.label}]" if line.button else ""
                out.append(f"   {plain_text(line.text)}{label}")
        self.write("\n".join(out))
        return reply.error

    def press(self, button: Button, actor: Actor) -> None:
        """Press an Approve, Reject or Check button as `actor`."""
        if button.action is Action.CHECK:
            check = CheckButton.loads(button.value)
            if check is not None:
                self.write(terminal_text(self.signoffs.checklists.check(check, actor).text))
            return
        sign = SignButton.loads(button.value)
        if sign is None:
            return
        if button.action is Action.APPROVE:
            self.write(terminal_text(self.signoffs.service.approve(sign, actor).text))
            return
        summary = self.signoffs.service.may_reject(sign, actor)
        self.pending_reject = sign
        self.write(
            f"{terminal_text(summary)}\nWhy? Type the reason on the next line "
            "(required; `cancel` to keep the request open)."
        )

    def reason(self, text: str, actor: Actor) -> None:
        """The line after [Reject]: the reason, or `cancel`."""
        sign, self.pending_reject = self.pending_reject, None
        if sign is None:
            return
        if text.strip().lower() == "cancel":
            self.write("Not rejected; the request stays open.")
            return
        self.write(terminal_text(self.signoffs.service.reject(sign, actor, text).text))
