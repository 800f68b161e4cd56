"""The one wrapper every Bolt listener goes through: ack, hand off, drop repeats, refuse, log.

A listener module writes only what its command, button or form does (parse, call a service,
render) as a handler of one `Interaction`. The wrapper around it (`Listeners`):

- acks first (the app runs with `process_before_response=False`, so the work continues
  after Slack has its answer within 3 s); a form is acked with its field errors instead,
  which keeps the modal open (its check runs before the ack);
- hands the work to the pool of bot/slack/work.py and returns, so Bolt's listener threads
  are free for the next requests' acks; the request is recorded in the request ledger with
  its work, in the one write that also drops a request already handled (Slack retries what
  it thinks was lost, a proxy may replay it, people double-click). Work that opens a modal
  with the request's trigger id runs at once instead (the id expires in 3 s);
- answers a `RollbotError` with the refusal (what is wrong, what would be right), privately;
- answers anything else with the one "unexpected problem" reply and one log line;
- counts each request in rollbot's own metrics (`rollbot_commands_total{command,outcome}`)
  and times its ack from the moment it arrived (`rollbot_ack_seconds`; bot/slack/http.py and
  bot/slack/socket_mode.py mark the arrival in Bolt's context).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from bot.services.requests import QueuedRequest
from bot.slack.actions import action_id
from bot.slack.blocks import truncate
from bot.slack.mrkdwn import mrkdwn
from bot.slack.work import SlackWork

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


Modal = bool | Callable[[Interaction], bool]


class Listeners:
    """The wrappers of one Bolt app's listeners: rollbot, the app's Web API client, and the
    pool their work goes to after the ack (bot/slack/work.py).

    A wrapper acks, then hands the request to the pool (recorded in the request ledger,
    which also tells a repeat apart) and returns, so Bolt's few listener threads are free for
    the next acks at once; the pool runs the handler. A listener whose handler opens a modal
    with the request's trigger id (`opens_modal`) runs it at once instead, in Bolt's thread:
    the trigger id is good for 3 s, so that work cannot wait behind others, and there is
    nothing to run again later (it is remembered for repeats only)."""

    def __init__(self, rollbot: Rollbot, client: WebClient, work: SlackWork) -> None:
        self.rollbot = rollbot
        self.client = client
        self.work = work

    def command(
        self, name: str, handle: Handler, *, opens_modal: Modal = False
    ) -> Callable[..., None]:
        """A slash command listener: ack, drop a repeat (same trigger_id), run `handle`.
        Counted as `name` (the command, `/rollout`)."""
        self._runner(name, name, handle)

        def on_command(
            ack: Ack,
            body: dict[str, Any],
            respond: Respond,
            client: WebClient,
            context: BoltContext,
        ) -> None:
            with self._acking(ack, context):
                trigger_id = body.get("trigger_id")
                # Slack sends a trigger id with every command; without one (not from Slack)
                # there is nothing to tell a repeat by.
                key = f"slack:{trigger_id}" if trigger_id else f"slack:once:{uuid.uuid4().hex}"
                interaction = Interaction(body, client, respond)
                payload = {"body": body, "response_url": context.response_url}
                self._after_ack(name, name, key, interaction, payload, handle, opens_modal)

        return on_command

    def action(
        self, name: str, handle: Handler, label: str | None = None, *, opens_modal: Modal = False
    ) -> Callable[..., None]:
        """A button listener: ack, drop a repeated click, run `handle`. Counted as `label`
        (`button:advance`; default `name`)."""
        counted = label or name
        self._runner(name, counted, handle)

        def on_action(
            ack: Ack,
            body: dict[str, Any],
            action: dict[str, Any],
            respond: Respond,
            client: WebClient,
            context: BoltContext,
        ) -> None:
            with self._acking(ack, context):
                key = f"slack:{body.get('trigger_id')}:{action.get('action_ts')}"
                interaction = Interaction(body, client, respond, action)
                payload = {"body": body, "action": action, "response_url": context.response_url}
                self._after_ack(name, counted, key, interaction, payload, handle, opens_modal)

        return on_action

    def button(
        self, app: App, what: Action, handle: Handler, *, opens_modal: Modal = False
    ) -> None:
        """Register `handle` for the clicks of one kind of button (bot/slack/actions.py)."""
        app.action(action_id(what))(
            self.action(f"{what} button", handle, f"button:{what}", opens_modal=opens_modal)
        )

    def submission(self, name: str, check: FormCheck, handle: Handler) -> Callable[..., None]:
        """A form listener. `check` returns field errors (block id -> message) to keep the
        modal open, or None; a `RollbotError` from it is shown under `check`'s first field.
        `check` runs before the ack (its errors are the ack). Then: ack (the modal closes),
        drop a repeated submission, run `handle`, whose replies go to the person as a direct
        message. Counted as `form:<name without " form">`."""
        label = "form:" + name.removesuffix(" form").replace(" ", "_")
        self._runner(name, label, handle)
        rollbot = self.rollbot

        def on_submit(
            ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
        ) -> None:
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
            with self._acking(ack, context):
                view = interaction.view
                key = f"slack:view:{view.get('id')}:{view.get('hash')}:{body.get('trigger_id')}"
                payload = {"body": body}
                self._after_ack(name, label, key, interaction, payload, handle, False)

        return on_submit

    # -- after the ack --------------------------------------------------------------------

    @contextmanager
    def _acking(self, ack: Ack, context: BoltContext) -> Iterator[None]:
        """Ack and time the ack, handing off (for `wait_idle`) until the block has passed
        the work on."""
        with self.work.handing_off():
            ack()
            _acked(self.rollbot, context)
            yield

    def _after_ack(
        self,
        name: str,
        label: str,
        key: str,
        interaction: Interaction,
        payload: dict[str, Any],
        handle: Handler,
        opens_modal: Modal,
    ) -> None:
        """In Bolt's thread, once acked: a modal's work now, anything else to the pool."""
        rollbot = self.rollbot
        modal = opens_modal(interaction) if callable(opens_modal) else opens_modal
        if modal:

            def once(i: Interaction) -> None:
                # Inside the guard: a database that is down gets its plain refusal here too.
                if not rollbot.requests.first_time(key):
                    log.info("ignoring repeated %s request %s", name, key)
                    i.outcome["outcome"] = REPEAT
                    return
                handle(i)

            _guarded(rollbot, name, label, interaction, once)
            return
        try:
            taken = self.work.take(key, name, payload)
        except Exception as exc:
            # Not recorded (the database is down): nothing will run it, so say so now.
            _guarded(rollbot, name, label, interaction, _raising(exc))
            return
        if not taken:
            log.info("ignoring repeated %s request %s", name, key)
            rollbot.telemetry.command(label, REPEAT)

    def _runner(self, name: str, label: str, handle: Handler) -> None:
        """Tell the pool how `name`'s work runs, from what `_after_ack` recorded."""
        rollbot, client = self.rollbot, self.client

        def run(queued: QueuedRequest) -> None:
            body = queued.payload.get("body") or {}
            action = queued.payload.get("action")
            url = queued.payload.get("response_url")
            # Commands and clicks answer at their response_url (as Bolt's `respond`), forms
            # by direct message (they have none).
            respond = (
                Respond(response_url=str(url) if url else None, proxy=client.proxy, ssl=client.ssl)
                if "response_url" in queued.payload
                else None
            )
            _guarded(rollbot, name, label, Interaction(body, client, respond, action), handle)

        self.work.runner(name, run, label)


def _raising(exc: Exception) -> Handler:
    """A handler that fails as the hand-off did, for `_guarded` to answer and count."""

    def handle(_interaction: Interaction) -> None:
        raise exc

    return handle


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
