"""The one wrapper every Bolt listener goes through: ack, drop repeats, refuse, log.

A listener module writes only what its command, button or form does (parse, call a service,
render) as a handler of one `Interaction`. The wrapper around it:

- acks first (the app runs with `process_before_response=False`, so the work continues
  after Slack has its answer within 3 s); a form is acked with its field errors instead,
  which keeps the modal open;
- drops a request already handled (Slack retries what it thinks was lost, a proxy may
  replay it, people double-click): the request ledger remembers each one;
- answers a `RollbotError` with the refusal (what is wrong, what would be right), privately;
- answers anything else with the one "unexpected problem" reply and one log line;
- counts each request in rollbot's own metrics (`rollbot_commands_total{command,outcome}`)
  and times its ack from the moment it arrived (`rollbot_ack_seconds`; bot/slack/http.py and
  bot/slack/socket_mode.py mark the arrival in Bolt's context).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.commands.reply import refusal_message
from bot.container import Rollbot
from bot.domain.actions import Action
from bot.domain.actor import Actor, Via
from bot.domain.errors import RollbotError
from bot.domain.message import Message
from bot.slack.actions import action_id
from bot.slack.blocks import truncate
from bot.slack.mrkdwn import mrkdwn

log = logging.getLogger(__name__)

MAX_REPLY_TEXT = 3000
UNEXPECTED = (
    ":x: rollbot hit an unexpected problem (it is logged). "
    "Check `/rollout status <flag>` or `/incident status` before trying again."
)


# Key of Bolt's request context holding `time.monotonic()` when the request arrived (set by
# bot/slack/http.py and bot/slack/socket_mode.py).
ARRIVED_AT = "rollbot_arrived_at"
OK, REFUSED, INVALID, ERROR, REPEAT = "ok", "refused", "invalid", "error", "repeat"


def _acked(rollbot: Rollbot, context: BoltContext | None) -> None:
    """Time the ack just sent from the request's arrival (when it was marked)."""
    arrived = context.get(ARRIVED_AT) if context is not None else None
    if isinstance(arrived, float):
        rollbot.telemetry.acked(time.monotonic() - arrived)


def refusal_text(exc: RollbotError) -> str:
    """A refusal as Slack text: what is wrong, then what would be right."""
    return mrkdwn(refusal_message(exc.message, exc.hint))


@dataclass(frozen=True)
class Interaction:
    """One slash command, button click or form submission, as its handler sees it."""

    body: dict[str, Any]
    client: WebClient
    respond: Respond | None = None
    action: dict[str, Any] | None = None
    # Set by `reply(..., refused=True)`: the answer was a refusal (counted as such).
    outcome: dict[str, str] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        """Who typed, clicked or submitted."""
        user = self.body.get("user")
        if isinstance(user, dict) and user.get("id"):
            return str(user["id"])
        return str(self.body.get("user_id") or "")

    @property
    def actor(self) -> Actor:
        """The person, as the services record them."""
        return Actor(self.user_id, Via.SLACK)

    @property
    def text(self) -> str:
        """A slash command's text after the command name."""
        return str(self.body.get("text") or "")

    @property
    def channel_id(self) -> str | None:
        """The channel a command was typed in (None for forms)."""
        channel = self.body.get("channel_id")
        return str(channel) if channel else None

    @property
    def view(self) -> dict[str, Any]:
        """A submitted form's view."""
        view = self.body.get("view")
        return view if isinstance(view, dict) else {}

    @property
    def value(self) -> str:
        """A clicked button's value."""
        return str((self.action or {}).get("value") or "")

    def mark(self, outcome: str) -> None:
        """How the request ended, when the handler knows better than "it returned": a
        refusal it answered itself (`refused`), a failure it reported itself (`error`)."""
        self.outcome["outcome"] = outcome

    def reply(
        self,
        said: str | Message,
        blocks: list[dict[str, Any]] | None = None,
        *,
        refused: bool = False,
    ) -> None:
        """Answer only this person: an ephemeral reply, or a direct message after a form.

        A `str` is the adapter's own mrkdwn; a `Message` (what a service said) is written
        as mrkdwn here, its text escaped. `refused`: the answer says no (nothing changed),
        which rollbot's metrics count apart from the requests that did something."""
        if refused:
            self.mark(REFUSED)
        text = said if isinstance(said, str) else mrkdwn(said)
        if self.respond is not None:
            self.respond(
                response_type="ephemeral",
                replace_original=False,
                text=truncate(text, MAX_REPLY_TEXT),
                blocks=blocks,
            )
            return
        if self.user_id:
            channel = self.client.conversations_open(users=self.user_id)["channel"]["id"]
            self.client.chat_postMessage(
                channel=channel, text=truncate(text, MAX_REPLY_TEXT), blocks=blocks
            )


Handler = Callable[[Interaction], None]
FormCheck = Callable[[Interaction], dict[str, str] | None]


def _guarded(
    rollbot: Rollbot, name: str, label: str, interaction: Interaction, handle: Handler
) -> None:
    """Run `handle`, answering a refusal or an unexpected failure; count the outcome."""
    outcome = OK
    try:
        try:
            handle(interaction)
            outcome = interaction.outcome.get("outcome", OK)
        except RollbotError as exc:
            outcome = REFUSED
            interaction.reply(refusal_text(exc))
    except Exception:
        outcome = ERROR
        log.exception("%s failed", name)
        try:
            interaction.reply(UNEXPECTED)
        except Exception as exc:  # Slack itself is failing: the log line above is enough
            log.warning(
                "could not tell %s that %s failed: %s",
                interaction.user_id,
                name,
                type(exc).__name__,
            )
    rollbot.telemetry.command(label, outcome)


def command(rollbot: Rollbot, name: str, handle: Handler) -> Callable[..., None]:
    """A slash command listener: ack, drop a repeat (same trigger_id), run `handle`.
    Counted as `name` (the command, `/rollout`)."""

    def on_command(
        ack: Ack,
        body: dict[str, Any],
        respond: Respond,
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        _acked(rollbot, context)
        trigger_id = body.get("trigger_id")

        def once(interaction: Interaction) -> None:
            # Inside the guard: a database that is down gets its plain refusal here too.
            if trigger_id and not rollbot.requests.first_time(f"slack:{trigger_id}"):
                log.info("ignoring repeated %s request %s", name, trigger_id)
                interaction.outcome["outcome"] = REPEAT
                return
            handle(interaction)

        _guarded(rollbot, name, name, Interaction(body, client, respond), once)

    return on_command


def action(
    rollbot: Rollbot, name: str, handle: Handler, label: str | None = None
) -> Callable[..., None]:
    """A button listener: ack, drop a repeated click, run `handle`. Counted as `label`
    (`button:advance`; default `name`)."""
    counted = label or name

    def on_action(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        _acked(rollbot, context)
        key = f"slack:{body.get('trigger_id')}:{action.get('action_ts')}"

        def once(interaction: Interaction) -> None:
            if not rollbot.requests.first_time(key):
                log.info("ignoring repeated click %s", key)
                interaction.outcome["outcome"] = REPEAT
                return
            handle(interaction)

        _guarded(rollbot, name, counted, Interaction(body, client, respond, action), once)

    return on_action


def submission(
    rollbot: Rollbot, name: str, check: FormCheck, handle: Handler
) -> Callable[..., None]:
    """A form listener. `check` returns field errors (block id -> message) to keep the
    modal open, or None; a `RollbotError` from it is shown under `check`'s first field.
    Then: ack (the modal closes), drop a repeated submission, run `handle`, whose replies
    go to the person as a direct message. Counted as `form:<name without " form">`."""
    label = "form:" + name.removesuffix(" form").replace(" ", "_")

    def on_submit(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        interaction = Interaction(body, client)
        try:
            errors = check(interaction)
        except FormRefused as exc:
            errors = {exc.block: truncate(str(exc.error), 150)}
        except RollbotError as exc:  # e.g. the database is down: say so, plainly
            ack()
            _acked(rollbot, context)
            interaction.mark(REFUSED)
            refusal = refusal_text(exc)
            _guarded(rollbot, name, label, interaction, lambda i: i.reply(refusal))
            return
        except Exception:
            log.exception("%s failed", name)
            ack()
            _acked(rollbot, context)
            interaction.mark(ERROR)
            _guarded(rollbot, name, label, interaction, lambda i: i.reply(UNEXPECTED))
            return
        if errors:
            ack(response_action="errors", errors=errors)
            _acked(rollbot, context)
            rollbot.telemetry.command(label, INVALID)
            return
        ack()
        _acked(rollbot, context)
        view = interaction.view
        key = f"slack:view:{view.get('id')}:{view.get('hash')}:{body.get('trigger_id')}"

        def once(interaction: Interaction) -> None:
            if not rollbot.requests.first_time(key):
                log.info("ignoring repeated %s submission %s", name, key)
                interaction.outcome["outcome"] = REPEAT
                return
            handle(interaction)

        _guarded(rollbot, name, label, interaction, once)

    return on_submit


class FormRefused(Exception):
    """A form's check refused it: `error` is shown under the field `block`."""

    def __init__(self, block: str, error: RollbotError) -> None:
        super().__init__(str(error))
        self.block = block
        self.error = error


def event(name: str, handle: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
    """An Events API listener (Bolt acks events itself): run `handle`, log a failure."""

    def on_event(event: dict[str, Any]) -> None:
        try:
            handle(event)
        except Exception:
            log.exception("%s failed", name)

    return on_event


def button(app: App, rollbot: Rollbot, what: Action, handle: Handler) -> None:
    """Register `handle` for the clicks of one kind of button (see bot/slack/actions.py)."""
    app.action(action_id(what))(action(rollbot, f"{what} button", handle, f"button:{what}"))
