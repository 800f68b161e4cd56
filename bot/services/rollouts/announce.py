"""Telling people about rollout changes: the card, the thread, and the outbox of retries.

Notification follows the commit and never undoes it: a message that cannot be sent goes to
the outbox, and `deliver_pending` retries it later.
"""

from __future__ import annotations

import logging

from bot.services.rollouts import notifier as notify
from bot.services.rollouts.reading import Outcome, RolloutCore
from bot.store import rollouts

log = logging.getLogger(__name__)


class RolloutAnnounce(RolloutCore):
    """Shows a rollout's card and posts its events, after each change commits."""

    def announce(self, outcome: Outcome) -> Outcome:
        """Show the card and post the event of a committed change (see `change_locked`)."""
        return self._announce(outcome)

    def _announce(self, outcome: Outcome) -> Outcome:
        """Show the card and post the event; failures go to the outbox, never undo."""
        view = outcome.view
        try:
            location = self.notifier.show_card(view)
            if location and view.message_ts is None:
                self._remember_card(view.id, location)
                view = self.view(view.id)
            self.notifier.post_event(view, outcome.event)
        except Exception as exc:
            log.warning("could not notify for rollout %s: %s", view.id, exc)
            notify.queue(
                self.db,
                "rollout",
                {"rollout_id": view.id, "text": outcome.event},
                str(exc),
                self.clock.now(),
            )
        announced = Outcome(view, outcome.event)
        for hook in self.after_change:
            try:
                hook(announced)
            except Exception:
                log.exception("after-change hook failed for rollout %s", view.id)
        return announced

    def _remember_card(self, rollout_id: int, location: notify.CardLocation) -> None:
        with self.db.session() as s:
            row = rollouts.by_id(s, rollout_id, for_update=True)
            if row is not None:
                row.channel_id, row.message_ts = location.channel_id, location.message_ts
                s.add(row)

    def deliver_pending(self) -> int:
        """Retry notifications that failed before; return how many got through."""
        delivered = 0
        for item in notify.due_outbox(self.db, self.clock.now()):
            assert item.id is not None
            try:
                view = self.view(int(item.payload["rollout_id"]))
                location = self.notifier.show_card(view)
                if location and view.message_ts is None:
                    self._remember_card(view.id, location)
                    view = self.view(view.id)
                self.notifier.post_event(view, str(item.payload["text"]))
            except Exception as exc:
                notify.mark_outbox(self.db, item.id, self.clock.now(), str(exc))
                continue
            notify.mark_outbox(self.db, item.id, self.clock.now(), None)
            delivered += 1
        return delivered
