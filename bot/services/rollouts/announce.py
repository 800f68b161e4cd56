"""Telling people about rollout changes: the card, the thread, and the outbox of retries.

Notification follows the commit and never undoes it: a message that cannot be sent goes to
the outbox (bot/store/outbox.py), and `deliver_pending` retries it later.
"""

from __future__ import annotations

import logging

from bot.services.events import said_data, said_of
from bot.services.rollouts.context import Outcome, RolloutContext
from bot.services.rollouts.notifier import CardLocation, ThreadText
from bot.services.rollouts.reading import RolloutReader
from bot.services.rollouts.views import RolloutView
from bot.store import outbox, rollouts

log = logging.getLogger(__name__)

OUTBOX_KIND = "rollout"


class RolloutAnnouncer:
    """Shows a rollout's card and posts its events, after each change commits."""

    def __init__(self, ctx: RolloutContext, reader: RolloutReader) -> None:
        self.ctx = ctx
        self.reader = reader

    def announce(self, outcome: Outcome) -> Outcome:
        """Show the card and post the event of a committed change, then tell the
        after-change hooks; delivery failures go to the outbox, never undo."""
        announced = self._announce(outcome, None)
        self._after_changes([announced])
        return announced

    def _after_changes(self, outcomes: list[Outcome]) -> None:
        for hook in self.ctx.after_changes:
            try:
                hook(outcomes)
            except Exception:
                log.exception("after-change hook failed for %d rollout(s)", len(outcomes))

    def _announce(self, outcome: Outcome, behind: bool | None) -> Outcome:
        """Show the card and post the event of a committed change, then tell the
        after-change hooks; delivery failures go to the outbox, never undo. `behind`: whether
        the thread has messages waiting in the outbox, when the caller already knows."""
        view = outcome.view
        try:
            view = self._show(view)
        except Exception as exc:  # the next change or delivery edits the card again
            log.warning("could not show the card of rollout %s: %s", view.id, exc)
        self.post(view.id, outcome.event, view, behind)
        announced = Outcome(view, outcome.event)
        for hook in self.ctx.after_change:
            try:
                hook(announced)
            except Exception:
                log.exception("after-change hook failed for rollout %s", view.id)
        return announced

    def announce_many(self, outcomes: list[Outcome]) -> list[Outcome]:
        """`announce` for many committed changes (a scheduler tick): which threads have
        messages waiting is asked once for all of them."""
        if not outcomes:
            return []
        with self.ctx.db.read() as s:
            waiting = outbox.waiting_threads(s, [_thread(o.view.id) for o in outcomes])
        announced = [self._announce(o, _thread(o.view.id) in waiting) for o in outcomes]
        self._after_changes(announced)
        return announced

    def post(
        self,
        rollout_id: int,
        message: ThreadText,
        view: RolloutView | None = None,
        behind: bool | None = None,
    ) -> None:
        """One message in a rollout's thread, without showing the card again. A failure
        goes to the outbox (a runbook reporting its steps must never stop for the chat);
        while earlier messages of the thread wait there, this one queues behind them, so
        the thread reads in the order things happened."""
        thread = _thread(rollout_id)
        if behind is None:
            with self.ctx.db.read() as s:
                behind = outbox.waiting(s, thread)
        if behind:
            self._keep(rollout_id, message, None)
            self.deliver_pending()
            return
        try:
            self.ctx.notifier.post_event(view or self.reader.view(rollout_id), message)
        except Exception as exc:
            log.warning("could not post to the thread of rollout %s: %s", rollout_id, exc)
            self._keep(rollout_id, message, exc)

    def deliver_pending(self) -> int:
        """Retry notifications that failed before, each thread in order (a thread stops at
        its first failure, so nothing overtakes it); return how many got through. What is
        attempted is claimed first, so two replicas never post the same one."""
        with self.ctx.db.session() as s:
            pending = outbox.claim(s, self.ctx.clock.now(), kind=OUTBOX_KIND)
        delivered = 0
        stopped: set[str | None] = set()
        for item in pending:
            assert item.id is not None
            if item.thread is not None and item.thread in stopped:
                with self.ctx.db.session() as s:
                    outbox.release(s, [item.id])  # still in order: the next claim has it
                continue
            error: str | None = None
            try:
                view = self._show(self.reader.view(int(item.payload["rollout_id"])))
                self.ctx.notifier.post_event(view, said_of(item.payload["text"]))
            except Exception as exc:
                error = str(exc) or type(exc).__name__
                stopped.add(item.thread)
            with self.ctx.db.session() as s:
                outbox.mark(s, item.id, self.ctx.clock.now(), error)
            delivered += error is None
        return delivered

    def _show(self, view: RolloutView) -> RolloutView:
        """Show the card; the first time, remember where it is and return the view with it."""
        location = self.ctx.notifier.show_card(view)
        if location and view.message_ts is None:
            self._remember_card(view.id, location)
            view = self.reader.view(view.id)
        return view

    def _remember_card(self, rollout_id: int, location: CardLocation) -> None:
        with self.ctx.db.session() as s:
            row = rollouts.by_id(s, rollout_id, for_update=True)
            if row is not None:
                row.channel_id, row.message_ts = location.channel_id, location.message_ts
                s.add(row)

    def _keep(self, rollout_id: int, message: ThreadText, exc: Exception | None) -> None:
        payload: dict[str, object] = {
            "rollout_id": rollout_id,
            "text": said_data(message),
        }
        error = (str(exc) or type(exc).__name__) if exc is not None else None
        with self.ctx.db.session() as s:
            outbox.queue(s, OUTBOX_KIND, payload, error, self.ctx.clock.now(), _thread(rollout_id))


def _thread(rollout_id: int) -> str:
    return f"rollout:{rollout_id}"
