"""The work Slack requests leave after their ack, run by a small pool of worker threads.

Bolt runs each listener on one of the five threads of its own executor and answers Slack
once the listener has called `ack()`. When a listener went on to do its work there (build
the reply, change the rollout, call Slack), the next requests' acks waited for one of those
five threads: under load an ack took many times as long as a bare Bolt app's. So a listener
acks, records the request with its work in the request ledger (one write: the repeat check
and the durable record are the same row, bot/services/requests.py) and returns; this pool
runs the work:

- `workers` threads (`slack.workers` in the config) take the work in the order it came.
  They share the process with the ack path, so fewer of them leave it more room: the work is
  a few tens of milliseconds of Python each, and waits on Slack and the database for the
  rest.
- at most `capacity` requests are held here (queued or running); past that, a request is
  recorded unclaimed and waits in the database until there is room (here, or on another
  replica): a burst costs memory only up to the bound, and nothing is refused.
- a keeper thread renews this replica's claim on what it holds, and every `poll_seconds`
  claims work nobody holds: left by a replica that died (its claim ran out), or waiting for
  room. Work older than Slack's 30 minutes for a reply, or already run twice, is given up on
  and logged with a count (`on_given_up` counts it in rollbot's metrics:
  `rollbot_commands_total{outcome="expired"|"exhausted"}`).

Work that must happen within Slack's 3 s (opening a modal with the request's trigger id)
does not come here: its listener runs it at once (bot/slack/listener.py).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bot.services.requests import QueuedRequest, RequestLedger

log = logging.getLogger(__name__)

# Requests held by one replica at most (queued or running); the rest wait in the database.
CAPACITY = 200
# How often the keeper looks for work nobody holds (a died replica's, or waiting for room).
POLL_SECONDS = 2.0

Runner = Callable[[QueuedRequest], None]


class SlackWork:
    """A bounded pool of worker threads fed from the request ledger's durable queue."""

    def __init__(
        self,
        ledger: RequestLedger,
        workers: int,
        *,
        capacity: int = CAPACITY,
        poll_seconds: float = POLL_SECONDS,
        on_given_up: Callable[[str, str], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.workers = workers
        self.capacity = capacity
        self.poll_seconds = poll_seconds
        self.on_given_up = on_given_up
        self._runners: dict[str, Runner] = {}
        self._labels: dict[str, str] = {}
        self._queue: queue.Queue[QueuedRequest | None] = queue.Queue()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        # Keys held here (queued, running, or done but not marked done yet) ...
        self._held: set[str] = set()
        # ... of which these are done, waiting for the ledger to say so (it failed once).
        self._unfinished: set[str] = set()
        # Requests acked whose hand-off (or inline work) has not ended yet.
        self._handing_off = 0
        # Set when a request was left waiting in the database for room here.
        self._left_waiting = False
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- set-up ---------------------------------------------------------------------------

    def runner(self, listener: str, run: Runner, counted_as: str | None = None) -> None:
        """How the work of `listener`'s requests is run (said once per listener, when the
        Bolt app is built): the same on the replica that took it and on one that claims it
        later. `counted_as`: its name in rollbot's metrics (default `listener`)."""
        if listener in self._runners:
            raise ValueError(f"two listeners named {listener!r}")
        self._runners[listener] = run
        self._labels[listener] = counted_as or listener

    def runner_of(self, listener: str) -> Runner:
        """What runs the work of `listener`'s requests (said with `runner`)."""
        return self._runners[listener]

    def start(self) -> None:
        """Start the worker threads and the keeper."""
        if self._threads:
            return
        for n in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"slack-work-{n}", daemon=True)
            self._threads.append(thread)
        self._threads.append(
            threading.Thread(target=self._keep, name="slack-work-keeper", daemon=True)
        )
        for thread in self._threads:
            thread.start()

    # -- the ack path ---------------------------------------------------------------------

    @contextmanager
    def handing_off(self) -> Iterator[None]:
        """Around a listener's ack and what follows it in Bolt's thread: `wait_idle` waits
        for it too (the HTTP answer can reach Slack before the work is taken)."""
        with self._lock:
            self._handing_off += 1
        try:
            yield
        finally:
            with self._changed:
                self._handing_off -= 1
                self._changed.notify_all()

    def take(self, key: str, listener: str, payload: dict[str, Any]) -> bool:
        """Record a request under `key` with its work (`listener` runs it on `payload`) and
        queue it; False for a repeat (nothing is recorded or run). Raises what the ledger
        raises (`DatabaseUnavailable` when the database is down)."""
        if listener not in self._runners:
            raise ValueError(f"no runner for {listener!r}")
        with self._lock:
            # Behind work waiting in the database for room, a request waits too (in order).
            hold = (
                len(self._held) < self.capacity
                and not self._left_waiting
                and not self._closing.is_set()
            )
            if hold:
                # Held before the write: the keeper must not claim it meanwhile.
                self._held.add(key)
        try:
            queued = self.ledger.take(key, listener, payload, hold=hold)
        except BaseException:
            if hold:
                self._let_go([key])
            raise
        if queued is None:
            if hold:
                self._let_go([key])
            return False
        if hold:
            self._queue.put(queued)
        else:
            # It waits in the database: the keeper takes it when there is room.
            with self._lock:
                self._left_waiting = True
            self._wake.set()
        return True

    # -- the workers ----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            queued = self._queue.get()
            if queued is None:
                return
            with self.ledger.running(queued.key) as run:
                try:
                    self._runners[queued.listener](queued)
                except Exception:  # a runner answers its own failures; this is a bug in one
                    log.exception("the work of %s failed", queued.listener)
            if run.committed:
                self._done([queued.key])  # marked done with the work's own change
            else:
                self._finish(queued.key)

    def _finish(self, key: str) -> None:
        try:
            self.ledger.finish([key])
        except Exception as exc:
            # Still held (and renewed) here until the keeper manages to mark it done, so
            # no other replica runs it again meanwhile.
            log.warning("could not mark request %s done (retrying): %s", key, type(exc).__name__)
            with self._lock:
                self._unfinished.add(key)
            return
        self._done([key])

    def _done(self, keys: list[str]) -> None:
        self._let_go(keys)
        if self._left_waiting:
            self._wake.set()  # room again: the work waiting in the database can come

    def _let_go(self, keys: list[str]) -> None:
        with self._changed:
            self._held.difference_update(keys)
            self._unfinished.difference_update(keys)
            self._changed.notify_all()

    # -- the keeper -----------------------------------------------------------------------

    def _keep(self) -> None:
        renew_every = self.ledger.lease.total_seconds() / 3
        renewed = time.monotonic()
        while not self._closing.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._closing.is_set():
                return
            try:
                if time.monotonic() - renewed >= renew_every:
                    with self._lock:
                        held = set(self._held)
                    self.ledger.renew(held)
                    renewed = time.monotonic()
                self._retry_unfinished()
                self.recover()
            except Exception as exc:  # the database is down: try again at the next wake
                log.warning(
                    "the Slack work keeper could not reach the ledger: %s", type(exc).__name__
                )

    def _retry_unfinished(self) -> None:
        with self._lock:
            keys = list(self._unfinished)
        if keys:
            self.ledger.finish(keys)
            self._let_go(keys)

    def recover(self) -> int:
        """Claim work nobody holds (left by a replica that died, or waiting for room) and
        queue it here, as much as there is room for; how many were queued. The keeper does
        this every `poll_seconds`."""
        with self._lock:
            room = self.capacity - len(self._held)
            held = set(self._held)
        if room <= 0 or self._closing.is_set():
            return 0
        claimed = self.ledger.claim_waiting(room, exclude=held)
        found = len(claimed.runnable) + len(claimed.expired) + len(claimed.exhausted)
        with self._changed:
            # Fewer than there was room for: nothing waits any more (for now).
            self._left_waiting = found >= room
            self._changed.notify_all()
        for given_up, why in (
            *((q, "expired") for q in claimed.expired),
            *((q, "exhausted") for q in claimed.exhausted),
        ):
            if self.on_given_up is not None:
                self.on_given_up(self._labels.get(given_up.listener, given_up.listener), why)
        if claimed.expired:
            log.warning(
                "dropped %d Slack request(s) older than %s, too late for a reply: %s",
                len(claimed.expired),
                self.ledger.max_age,
                ", ".join(f"{q.listener} at {q.received_at:%H:%M:%S}" for q in claimed.expired),
            )
        if claimed.exhausted:
            log.error(
                "gave up on %d Slack request(s) whose work was interrupted twice: %s",
                len(claimed.exhausted),
                ", ".join(f"{q.listener} at {q.received_at:%H:%M:%S}" for q in claimed.exhausted),
            )
        queued = 0
        for request in claimed.runnable:
            if request.listener not in self._runners:
                log.error("no listener %r for a waiting Slack request; dropped", request.listener)
                self.ledger.finish([request.key])
                continue
            if request.runs > 1:
                log.warning(
                    "running again %s's work, interrupted on a replica that stopped",
                    request.listener,
                )
            with self._lock:
                self._held.add(request.key)
            self._queue.put(request)
            queued += 1
        return queued

    # -- waiting and stopping -------------------------------------------------------------

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every request acked here so far has had its work done (tests),
        including what waited in the database for room; False when `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._held or self._handing_off or self._left_waiting:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop: the work queued here is done for up to `timeout` seconds; whatever has not
        started by then is let go in the ledger, for the next replica (or this one,
        restarted) to run at once. New requests are recorded for whoever runs next."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._wake.set()
        for _ in range(self.workers):
            self._queue.put(None)  # after the work queued already
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left: list[str] = []
        while True:
            try:
                queued = self._queue.get_nowait()
            except queue.Empty:
                break
            if queued is not None:
                left.append(queued.key)
        for thread in self._threads:
            if thread.is_alive() and thread.name != "slack-work-keeper":
                self._queue.put(None)  # its stop, taken out with the rest
        if left:
            try:
                self.ledger.release(left)
                log.info("left %d Slack request(s) for the next replica to run", len(left))
            except Exception as exc:
                log.warning(
                    "could not let go of %d Slack request(s) (they run after their lease): %s",
                    len(left),
                    type(exc).__name__,
                )
            self._let_go(left)
