"""What a runbook step gets to work with, and what it reports back."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain.actor import Actor
from bot.domain.secrets import OWN_SECRETS, Redactor
from bot.providers.databases import Databases
from bot.providers.flags.base import FlagProvider
from bot.providers.metrics.base import MetricsProvider


class StepFailed(Exception):
    """One attempt of a step failed; the message says why, `output` what it printed."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


@dataclass
class RunContext:
    """Everything steps may use. `sleep` and `monotonic` are replaceable so tests need not wait."""

    flag_key: str
    rollout_id: int
    reason: str
    actor: Actor
    flags: FlagProvider
    metrics: MetricsProvider
    env: Mapping[str, str]
    output_tail_chars: int = 1500
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    # The rollback's run marker, in every command's environment (see leftovers.py).
    run_marker: str | None = None
    # Variables withheld from commands unless a step asks for one by name (`env_from`).
    private: frozenset[str] = OWN_SECRETS
    redactor: Redactor = field(default_factory=Redactor)
    # The config's named databases, for sql steps.
    databases: Databases | None = None

    def __post_init__(self) -> None:
        # Withheld secrets never reach a command, but a step could still print one (an http
        # step echoing a header, say): keep them out of anything shown.
        self.redactor.add(*(v for k, v in self.env.items() if k in self.private and v))

    def redact(self, text: str) -> str:
        """`text` with every secret value this run knows replaced by `***`."""
        return self.redactor(text)

    def tail(self, text: str) -> str:
        """The end of `text`, redacted, short enough for a Slack message."""
        text = self.redact(text).strip()
        limit = self.output_tail_chars
        if len(text) <= limit:
            return text
        return "…" + text[-(limit - 1) :]

    def secret(self, name: str) -> str:
        """An environment variable's value, remembered so it is redacted from output."""
        value = self.env.get(name, "")
        if not value:
            raise StepFailed(f"the environment variable {name} is not set")
        self.redactor.add(value)
        return value


@dataclass(frozen=True)
class StepResult:
    """What one runbook step did."""

    name: str
    kind: str
    ok: bool
    attempts: int
    duration_s: float
    output: str = ""
    error: str | None = None
    continued: bool = False  # failed, but marked continue_on_error

    def as_dict(self) -> dict[str, Any]:
        """For the rollback row and the audit table."""
        return {
            "name": self.name,
            "kind": self.kind,
            "ok": self.ok,
            "attempts": self.attempts,
            "duration_s": round(self.duration_s, 3),
            "output": self.output,
            "error": self.error,
            "continued": self.continued,
        }
