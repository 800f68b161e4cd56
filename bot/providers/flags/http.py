"""The http flag provider: a remote flag API shaped like the seed's (and rollbot's own /flags).

`GET {base}/flags/{key}` answers the flag document (404 when the flag does not exist) and
`POST {base}/flags/{key}` takes any subset of its fields with `Authorization: Bearer <token>`
and answers the new document. Another rollbot's built-in flag API is such a server.

Segment percentages (`segment_rollouts`, which plan steps with `segments:` set) need a remote
that holds them, as rollbot's /flags does for the segments in its own `flags.segments`. A
remote whose documents have no `segment_rollouts` field (the seed's API) cannot: rollbot
refuses before it sends a change that gives a segment a percentage there, and sends "no
segments" to it as nothing at all. `check_segments` asks the remote before such a rollout
starts.
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

Json = dict[str, Any]
SEGMENTS_FIELD = "segment_rollouts"


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
        found = self._fetch(key)
        return None if found is None else found[0]

    def _fetch(self, key: str) -> tuple[FlagDocument, Json] | None:
        """The remote document and the body it came in (which says what fields it has)."""
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
        A change that gives segments percentages is refused, before anything is sent, by a
        remote whose documents have no `segment_rollouts`; one that clears them (a rollback)
        leaves the field out there, so the rest of it still goes through.
        """
        check_percentage(change)
        flush_pending(within)
        found = self._fetch(key)
        before = None if found is None else found[0]
        fields = change.fields()
        if found is not None and SEGMENTS_FIELD not in found[1] and SEGMENTS_FIELD in fields:
            if fields[SEGMENTS_FIELD]:
                raise self._no_segments(set(fields[SEGMENTS_FIELD]), "nothing was sent to it")
            del fields[SEGMENTS_FIELD]  # no segments there: "none" already holds
        after, _ = self._post(key, fields)
        if fields.get(SEGMENTS_FIELD) and after.segment_rollouts != fields[SEGMENTS_FIELD]:
            # A remote that dropped the field (the flag was new, so its shape was unknown).
            undone = self._restore(key, found)
            raise self._no_segments(set(fields[SEGMENTS_FIELD]), undone)
        record_change(
            self.db, self.clock, within, provider=self.name, key=key, actor=actor,
            before=before, after=after,
        )  # fmt: skip
        return after

    def check_segments(
        self, key: str, segments: set[str], actor: Actor, within: Transaction | None = None
    ) -> None:
        """Ask the remote whether it holds a percentage for each of `segments` on `key`.

        It is asked by setting those it does not hold yet to 0% (keeping the others), which
        shows the flag to nobody new: a remote without `segment_rollouts` refuses or drops
        them, and a rollbot that does not define a segment answers 422 naming it. The flag
        is created (off) if it does not exist, as starting a rollout would; the change is
        audited."""
        flush_pending(within)
        found = self._fetch(key)
        if found is not None and SEGMENTS_FIELD not in found[1]:
            raise self._no_segments(segments, "nothing was sent to it")
        held = {} if found is None else dict(found[0].segment_rollouts)
        if found is not None and set(held) >= segments:
            return  # it holds them all already
        probe = {**{name: 0 for name in sorted(segments)}, **held}
        try:
            after, _ = self._post(key, {SEGMENTS_FIELD: probe})
        except FlagProviderError as exc:
            exc.message = (
                f"The plan gives segments percentages ({', '.join(sorted(segments))}) and "
                f"{exc.message}"
            )
            exc.hint = (
                "Define those segments in the remote flag API (a rollbot's flags.segments), "
                "or use a plan without `segments:` steps; nothing was started."
            )
            exc.args = (exc.message,)
            raise
        if after.segment_rollouts != probe:
            raise self._no_segments(segments, "it did not keep them, so nothing was started")
        record_change(
            self.db, self.clock, within, provider=self.name, key=key, actor=actor,
            before=None if found is None else found[0], after=after,
        )  # fmt: skip

    def _post(self, key: str, fields: Json) -> tuple[FlagDocument, Json]:
        response = self.remote.request("POST", _path(key), json=fields)
        return self._document(response, f"POST /flags/{key}")

    def _restore(self, key: str, found: tuple[FlagDocument, Json] | None) -> str:
        """Put the fields the remote had back (off, for a flag it did not have); say how it
        went, for the error."""
        fields: Json = {"enabled": False}
        if found is not None:
            fields = {k: v for k, v in found[0].model_dump().items() if k in found[1]}
        try:
            self._post(key, fields)
        except FlagProviderError as exc:
            return f"putting the flag back failed too ({exc.message}); check it there"
        return "the flag it created was turned off" if found is None else "the flag was put back"

    def _no_segments(self, segments: set[str], what_happened: str) -> FlagProviderError:
        return FlagProviderError(
            f"The http flag API at {self.remote.base_url} does not hold segment percentages "
            f"(`{SEGMENTS_FIELD}`), which this rollout needs for "
            f"{', '.join(sorted(segments))}; {what_happened}.",
            "Use a flag API that holds them (a rollbot's /flags, with those segments in its "
            "flags.segments), the builtin or unleash provider, or a plan without `segments:` "
            "steps.",
        )

    def _document(self, response: httpx.Response, what: str) -> tuple[FlagDocument, Json]:
        """Read a flag document: `enabled` and `rollout_percentage` must be there; fields rollbot
        does not know are ignored (a remote may add some). The body comes along, since what
        fields it has says what the remote holds."""
        try:
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
            missing = [k for k in ("enabled", "rollout_percentage") if k not in body]
            if missing:  # e.g. a proxy's or another service's JSON page
                raise ValueError(f"no {' or '.join(missing)}")
            doc = FlagDocument.model_validate(
                {k: v for k, v in body.items() if k in FlagDocument.model_fields}
            )
            return doc, body
        except (ValueError, ValidationError) as exc:
            raise FlagProviderError(
                f"The http flag API at {self.remote.base_url} answered {what} with something "
                f"that is not a flag document ({str(exc).splitlines()[0][:200]}).",
                "Check that flags.http.base_url points at a flag API like rollbot's /flags.",
            ) from None


def _path(key: str) -> str:
    # Flag keys are URL-safe already (Unleash's alphabet); quoting guards anything else.
    return f"/flags/{quote(key, safe='')}"
