"""The http flag provider: a remote flag API shaped like the seed's (and rollbot's own /flags).

`GET {base}/flags/{key}` answers the flag document (404 when the flag does not exist) and
`POST {base}/flags/{key}` takes any subset of its fields with `Authorization: Bearer <token>`
and answers the new document. Another rollbot's built-in flag API is such a server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from bot.clock import Clock
from bot.domain.actor import Actor
from bot.domain.flag import FlagChange, FlagDocument
from bot.providers.flags.base import FlagProviderError
from bot.providers.flags.remote import RemoteClient, check_percentage, flush_pending, record_change
from bot.store.database import Database, Transaction


class HttpFlagProvider:
    """Sets flags through a remote flag API; audits each change in rollbot's own table."""

    name = "http"

    def __init__(
        self,
        db: Database,
        clock: Clock,
        base_url: str,
        token: str,
        token_env: str,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.remote = RemoteClient(
            "http",
            base_url,
            {"Authorization": f"Bearer {token}", "Accept": "application/json"},
            token_env=token_env,
            secret=token,
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
            transport=transport,
            **extra,
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.remote.close()

    def get(self, key: str) -> FlagDocument | None:
        """The remote document, or None when the remote says the flag does not exist."""
        response = self.remote.request("GET", _path(key), expect=(200, 404))
        if response.status_code == 404:
            return None
        return self._document(response, f"GET /flags/{key}")

    def apply(
        self, key: str, change: FlagChange, actor: Actor, within: Transaction | None = None
    ) -> FlagDocument:
        """POST the partial change; audit before and after in the caller's transaction.

        The partial body is what the seed's API takes (`{"enabled": false}`), and it makes a
        retried POST harmless: sending the same fields twice sets them to the same values.
        """
        check_percentage(change)
        flush_pending(within)
        before = self.get(key)
        response = self.remote.request("POST", _path(key), json=change.fields())
        after = self._document(response, f"POST /flags/{key}")
        record_change(
            self.db, self.clock, within, provider=self.name, key=key, actor=actor,
            before=before, after=after,
        )  # fmt: skip
        return after

    def _document(self, response: httpx.Response, what: str) -> FlagDocument:
        """Read a flag document: `enabled` and `rollout_percentage` must be there; fields rollbot
        does not know are ignored (a remote may add some)."""
        try:
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
            missing = [k for k in ("enabled", "rollout_percentage") if k not in body]
            if missing:  # e.g. a proxy's or another service's JSON page
                raise ValueError(f"no {' or '.join(missing)}")
            return FlagDocument.model_validate(
                {k: v for k, v in body.items() if k in FlagDocument.model_fields}
            )
        except (ValueError, ValidationError) as exc:
            raise FlagProviderError(
                f"The http flag API at {self.remote.base_url} answered {what} with something "
                f"that is not a flag document ({str(exc).splitlines()[0][:200]}).",
                "Check that flags.http.base_url points at a flag API like rollbot's /flags.",
            ) from None


def _path(key: str) -> str:
    # Flag keys are URL-safe already (Unleash's alphabet); quoting guards anything else.
    return f"/flags/{quote(key, safe='')}"
