"""Publishing a status update through the configured providers, primary first.

Each provider gets `attempts` tries, with a pause of `backoff` seconds before the second
try, doubling after that; when it keeps failing the next provider (a fallback) is tried.
That keeps the five-minute status deadline through a provider outage of a few minutes.
When every provider fails this raises, and the incident core keeps the update and retries
later (it is persisted there, not here).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.providers.statuspage.base import StatusPageError, StatusPageProvider, StatusUpdate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishResult:
    """Where the update went, and what failed on the way (for the incident's timeline)."""

    provider: str
    reference: str
    errors: list[str] = field(default_factory=list)


class StatusPublishError(StatusPageError):
    """Every provider failed; `errors` has each attempt's failure (no secrets)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("every status page provider failed: " + "; ".join(errors))
        self.errors = errors


def publish_with_fallback(
    providers: Sequence[StatusPageProvider],
    update: StatusUpdate,
    attempts: int = 3,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> PublishResult:
    """Publish `update` with the first provider that takes it; raise StatusPublishError."""
    if not providers:
        raise StatusPublishError(["no status page provider is configured"])
    attempts = max(1, attempts)
    errors: list[str] = []
    for provider in providers:
        delay = backoff
        for attempt in range(1, attempts + 1):
            try:
                reference = provider.publish(update)
            except StatusPageError as exc:
                reason = str(exc)
            except Exception as exc:
                # A provider bug must not stop the fallback; its text may not be vetted for
                # secrets, so only its kind is kept (the traceback goes to the log).
                log.exception("status provider %s crashed", provider.name)
                reason = f"{provider.name}: unexpected {type(exc).__name__}"
            else:
                if errors:
                    log.warning(
                        "status update %s published by %s after: %s",
                        update.incident_key,
                        provider.name,
                        "; ".join(errors),
                    )
                return PublishResult(provider.name, reference, errors)
            errors.append(f"{provider.name} attempt {attempt}/{attempts}: {reason}")
            log.warning("status update %s: %s", update.incident_key, errors[-1])
            if attempt < attempts:
                sleep(delay)
                delay *= 2
    raise StatusPublishError(errors)
