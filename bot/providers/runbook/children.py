"""Runbook commands are children of this rollbot: they stop when it stops.

A command runs in a process group of its own (a timeout kills the whole pipeline). Without
more, that group outlives rollbot: a `serve` stopped with SIGTERM, or killed with `kill -9`,
would leave a half-run `git revert` going while another replica takes the rollback over.
So:

- every running command's group is kept here, and `stop_all` (called when `serve` or
  `shell` stops, and at exit) kills them and lets no new command start;
- on Linux the command's shell asks the kernel to SIGKILL it when rollbot dies, however it
  dies (`prctl(PR_SET_PDEATHSIG)`); its own children (a pipeline's other processes) are not
  covered by that, and are found and killed by the resumer (`leftovers.py`).

A command killed this way did not fail: `StepInterrupted` stops the run without recording a
result, as a crash would, and the rollback's lease hands it to whoever resumes it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_lock = threading.Lock()
_groups: set[int] = set()
_stopping = threading.Event()


class StepInterrupted(BaseException):
    """rollbot is stopping: the step was cut short and has no result. A BaseException, so
    that the runbook engine does not count it as a failed attempt and go on."""


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _prctl()


def die_with_rollbot() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the command's shell die with this process (Linux), or None
    where the kernel cannot do it."""
    prctl = _PRCTL
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # rollbot died between fork and prctl
            os._exit(137)

    return preexec


def started(group: int) -> None:
    """A command's process group started; raise StepInterrupted (killing it) if rollbot is
    stopping already."""
    with _lock:
        if not _stopping.is_set():
            _groups.add(group)
            return
    _kill(group)
    raise StepInterrupted("rollbot is stopping")


def ended(group: int) -> None:
    """The command's shell has exited (its group is no longer ours to kill)."""
    with _lock:
        _groups.discard(group)


def check() -> None:
    """Raise StepInterrupted when rollbot is stopping (no new command starts then)."""
    if _stopping.is_set():
        raise StepInterrupted("rollbot is stopping")


def stopping() -> bool:
    """True once `stop_all` ran: a command that ended now was killed by it."""
    return _stopping.is_set()


def stop_all() -> list[int]:
    """Kill every running command's process group and let no new one start; return them."""
    with _lock:
        _stopping.set()
        groups = sorted(_groups)
        _groups.clear()
    for group in groups:
        _kill(group)
    if groups:
        log.warning("rollbot is stopping: killed runbook command group(s) %s", groups)
    return groups


def _kill(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # gone already
        os.killpg(group, signal.SIGKILL)
