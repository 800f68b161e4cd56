"""What the remote flag providers (http, unleash) share: a bounded, retrying HTTP client that
never shows its token, a range check made before any call, and the audit record.

Remote calls happen while the rollout service holds the rollout's row lock, so every call is
bounded: a per-request timeout and a fixed number of attempts with a short backoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from sqlmodel import Session

from bot.clock import Clock
from bot.domain.actor import Actor
from bot.domain.flag import FlagChange, FlagDocument
from bot.providers.flags.base import FlagProviderError
from bot.store import audit
from bot.store.database import Database, Transaction

log = logging.getLogger(__name__)

# Answers worth another try: the server (or a proxy before it) was briefly unwell.
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# For requests that are not safe to repeat (they create something), only answers that say the
# request was not handled: a proxy that could not reach the server, or a server not ready.
UNSAFE_RETRY_STATUSES = frozenset({502, 503})


def check_percentage(change: FlagChange) -> None:
    """Refuse a percentage outside 0-100 before anything is sent.

    FlagChange validates its range when parsed, but a change built with `model_construct` or
    `model_copy(update=...)` skips validation, and Unleash stores any number it is given.
    """
    pct = change.rollout_percentage
    if pct is not None and (isinstance(pct, bool) or not 0 <= pct <= 100):
        raise FlagProviderError(
            f"rollout_percentage {pct!r} is out of range; nothing was sent to the flag system.",
            "Use a whole number from 0 to 100.",
        )


def flush_pending(within: Transaction | None) -> None:
    """Write the caller's pending rows before the remote change, so a database error (a
    constraint, a lost connection) surfaces while nothing outside has changed yet."""
    if within is not None:
        within.flush()


class RemoteClient:
    """httpx with timeouts, bounded retries and errors that name the server, never the token."""

    def __init__(
        self,
        system: str,
        base_url: str,
        headers: dict[str, str],
        token_env: str,
        secret: str,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.token_env = token_env
        self._secret = secret
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.sleep = sleep
        self.client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        expect: Iterable[int] = (200,),
        safe_to_repeat: bool = True,
    ) -> httpx.Response:
        """Send one request, retrying on connection errors and 5xx; return an expected answer.

        `expect` lists the statuses the caller handles (e.g. 404 for "does not exist"); any
        other status raises FlagProviderError with the server's own message. Requests that
        are not `safe_to_repeat` are retried only when they surely did not arrive.
        """
        expected = set(expect)
        what = f"{method} {self.base_url}{path}"
        last: str = ""
        tried = 0
        for attempt in range(1, self.attempts + 1):
            tried = attempt
            if attempt > 1:
                self.sleep(self.backoff * 2 ** (attempt - 2))
            try:
                response = self.client.request(method, path, json=json)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last = f"could not connect ({_reason(exc)})"
                continue  # nothing arrived: always safe to try again
            except httpx.TimeoutException as exc:
                last = f"no answer within the timeout ({type(exc).__name__})"
                if safe_to_repeat:
                    continue
                break
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {_reason(exc)}"
                if safe_to_repeat:
                    continue
                break
            if response.status_code in expected:
                return response
            retry = RETRY_STATUSES if safe_to_repeat else UNSAFE_RETRY_STATUSES
            if response.status_code in retry:
                last = f"answered {response.status_code} {_server_message(response)}"
                log.info("%s: %s (attempt %d of %d)", what, last, attempt, self.attempts)
                continue
            raise self._scrub(self._refused(what, response))
        raise self._scrub(
            FlagProviderError(
                f"The {self.system} flag API could not be used: {what} {last}, "
                f"after {tried} attempt(s).",
                f"Nothing was changed in rollbot; check that {self.base_url} is up, "
                "then try again.",
            )
        )

    def _scrub(self, error: FlagProviderError) -> FlagProviderError:
        """Blank the token out of an error, in case a server ever echoes it back."""
        if self._secret:
            error.message = str(error.message).replace(self._secret, "[token]")
            error.hint = str(error.hint).replace(self._secret, "[token]")
            error.args = (error.message,)
        return error

    def _refused(self, what: str, response: httpx.Response) -> FlagProviderError:
        status = response.status_code
        message = f"The {self.system} flag API refused {what}: {status} {_server_message(response)}"
        if status in (401, 403):
            hint = (
                f"Check the token in the environment variable {self.token_env} "
                "(it must be valid and allowed to change flags)."
            )
        elif status == 404:
            hint = "Check the base URL (and for Unleash the project and environment) in config."
        else:
            hint = "Nothing was changed in rollbot; fix the cause above and try again."
        return FlagProviderError(message + ".", hint)


def _reason(exc: Exception) -> str:
    # httpx messages name the URL at most; headers (the token) never appear in them.
    return str(exc) or type(exc).__name__


def _server_message(response: httpx.Response, limit: int = 300) -> str:
    """The server's own explanation, short: Unleash and rollbot both answer JSON errors."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return f"({text[:limit]})" if text else f"({response.reason_phrase})"
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str):
                return f"({body[key][:limit]})"
    return f"({str(body)[:limit]})"


def record_change(
    db: Database,
    clock: Clock,
    within: Transaction | None,
    *,
    provider: str,
    key: str,
    actor: Actor,
    before: FlagDocument | None,
    after: FlagDocument,
) -> None:
    """Audit the change as the builtin store does (who, when, before, after), in the caller's
    transaction when there is one, so the record commits or rolls back with the rollout."""

    def write(s: Session) -> None:
        audit.record(
            s,
            actor=actor,
            at=clock.now(),
            action="flag.created" if before is None else "flag.changed",
            subject_type="flag",
            subject_id=key,
            before=before.model_dump() if before else None,
            after=after.model_dump(),
            detail=f"provider={provider}",
        )

    if within is not None:
        write(within.session)
        return
    with db.session() as own:
        write(own)
