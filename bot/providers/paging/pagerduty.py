"""PagerDuty through the `pagerduty` package (7.x, built on httpx2).

- Who is on call: REST API v2 `GET /oncalls?escalation_policy_ids[]=<policy>`; the entry
  with the lowest escalation level is the first responder, and `GET /users/{id}` gives
  their email (on-call entries only carry a user reference).
- Paging: Events API v2 `POST /v2/enqueue` with the routing key, `event_action`
  trigger|acknowledge|resolve and a stable `dedup_key`, so one rollbot incident is one
  PagerDuty alert however often it is triggered.

The package retries on its own (429 forever by default, 5xx on the Events API with long
cooldowns); rollbot bounds that so a page never blocks an incident for minutes. Every
failure becomes a PagingError whose text never contains the token or the routing key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import httpx2
import pagerduty

from bot.providers.paging.base import SEVERITIES, OnCall, PagedPerson, PagingError, PersonPage

log = logging.getLogger(__name__)

T = TypeVar("T")
SUMMARY_LIMIT = 1024  # Events API v2 truncates payload.summary there
DEDUP_KEY_LIMIT = 255


def bound_retries(client: pagerduty.ApiClient, sleep_timer: float) -> None:
    """Few retries with short pauses: a page that cannot go out must fail fast, not hang."""
    client.retry = {429: 3, 500: 2, 502: 2, 503: 2, 504: 2}
    client.max_http_attempts = 4
    client.max_network_attempts = 2
    client.sleep_timer = sleep_timer


class PagerDutyPager:
    """The Pager for one escalation policy and one Events API integration."""

    def __init__(
        self,
        *,
        escalation_policy_id: str,
        routing_key: str,
        api_token: str,
        from_email: str | None = None,
        service_id: str | None = None,
        api_url: str = "https://api.pagerduty.com",
        events_url: str = "https://events.pagerduty.com",
        timeout_seconds: float = 10.0,
        transport: httpx2.BaseTransport | None = None,
        sleep_timer: float = 0.5,
    ) -> None:
        self.escalation_policy_id = escalation_policy_id
        self.service_id = service_id
        self.from_email = from_email
        self._secrets = [s for s in (routing_key, api_token) if s]
        extra: dict[str, Any] = {} if transport is None else {"transport": transport}
        self.rest = pagerduty.RestApiV2Client(
            api_token, default_from=from_email, base_url=api_url, **extra
        )
        self.events = pagerduty.EventsApiV2Client(routing_key, base_url=events_url, **extra)
        for client in (self.rest, self.events):
            bound_retries(client, sleep_timer)
            client.timeout = timeout_seconds  # type: ignore[assignment]  # float is fine

    def close(self) -> None:
        """Close the HTTP connections."""
        self.rest.close()
        self.events.close()

    def on_call(self) -> OnCall | None:
        """The first-level on-call engineer of the escalation policy, or None."""
        return self.on_call_for(escalation_policy_id=self.escalation_policy_id)

    def on_call_for(
        self, *, schedule_id: str | None = None, escalation_policy_id: str | None = None
    ) -> OnCall | None:
        """Who is on call first in a schedule or escalation policy (`GET /oncalls`)."""
        if schedule_id:
            params: dict[str, Any] = {"schedule_ids[]": [schedule_id]}
        elif escalation_policy_id:
            params = {"escalation_policy_ids[]": [escalation_policy_id]}
        else:
            raise PagingError("PagerDuty: who is on call needs a schedule or escalation policy")
        entries = self._guard(
            "looking up who is on call", lambda: self.rest.list_all("/oncalls", params=params)
        )
        candidates = [
            e
            for e in entries
            if isinstance(e, dict)
            and isinstance(e.get("user"), dict)
            and isinstance(e["user"].get("id"), str)
        ]
        if not candidates:
            return None
        # Earliest escalation level first; PagerDuty's order breaks ties.
        first = min(candidates, key=lambda e: int(e.get("escalation_level") or 1_000_000))
        user_id: str = first["user"]["id"]
        user = self._guard(
            "looking up the on-call user", lambda: self.rest.rget(f"/users/{user_id}")
        )
        if not isinstance(user, dict):
            raise PagingError("PagerDuty: looking up the on-call user: unexpected answer")
        name = user.get("name") or first["user"].get("summary") or user_id
        return OnCall(name=str(name), email=str(user.get("email") or ""), pagerduty_user_id=user_id)

    def user_by_email(self, email: str) -> str | None:
        """The PagerDuty user with exactly this email (`GET /users?query=`), or None."""
        users = self._guard(
            "looking up a user by email",
            lambda: self.rest.list_all("/users", params={"query": email}),
        )
        wanted = email.strip().lower()
        for user in users:
            if isinstance(user, dict) and str(user.get("email") or "").lower() == wanted:
                found = user.get("id")
                if isinstance(found, str):
                    return found
        return None

    def page_person(self, page: PersonPage) -> PagedPerson:
        """`POST /incidents` on the configured service, assigned to the user (or to the
        escalation policy); PagerDuty refuses a second open incident with the same key."""
        if not self.service_id or not self.from_email:
            raise PagingError(
                "PagerDuty: paging one person opens an incident on a service: set "
                "paging.pagerduty.service_id and paging.pagerduty.from_email"
            )
        if (page.user_id is None) == (page.escalation_policy_id is None):
            raise PagingError("PagerDuty: page one user or one escalation policy")
        self._check_key(page.incident_key)
        incident: dict[str, Any] = {
            "type": "incident",
            "title": page.title[:SUMMARY_LIMIT],
            "service": {"id": self.service_id, "type": "service_reference"},
            "urgency": "high",
            "incident_key": page.incident_key,
            "body": {"type": "incident_body", "details": page.details[:10_000]},
        }
        if page.user_id is not None:
            assignee = {"id": page.user_id, "type": "user_reference"}
            incident["assignments"] = [{"assignee": assignee}]
        else:
            incident["escalation_policy"] = {
                "id": page.escalation_policy_id,
                "type": "escalation_policy_reference",
            }
        opened = self._guard(
            "opening an incident",
            lambda: self.rest.rpost("/incidents", json={"incident": incident}),
        )
        if not isinstance(opened, dict) or not isinstance(opened.get("id"), str):
            raise PagingError("PagerDuty: opening an incident: unexpected answer")
        url = opened.get("html_url")
        return PagedPerson(opened["id"], url if isinstance(url, str) else None)

    def trigger(
        self,
        dedup_key: str,
        summary: str,
        source: str,
        severity: str,
        details: dict[str, object],
    ) -> None:
        """Send an Events API v2 trigger; the same dedup_key again updates the same alert."""
        if severity not in SEVERITIES:
            raise PagingError(
                f"PagerDuty: unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}"
            )
        self._check_key(dedup_key)
        if len(summary) > SUMMARY_LIMIT:
            summary = summary[: SUMMARY_LIMIT - 1] + "…"
        self._guard(
            "triggering",
            lambda: self.events.trigger(
                summary,
                source,
                dedup_key=dedup_key,
                severity=severity,
                custom_details=dict(details) if details else None,
            ),
        )

    def acknowledge(self, dedup_key: str) -> None:
        """Send an Events API v2 acknowledge for the alert."""
        self._check_key(dedup_key)
        self._guard("acknowledging", lambda: self.events.acknowledge(dedup_key))

    def resolve(self, dedup_key: str) -> None:
        """Send an Events API v2 resolve for the alert."""
        self._check_key(dedup_key)
        self._guard("resolving", lambda: self.events.resolve(dedup_key))

    def _check_key(self, dedup_key: str) -> None:
        if not dedup_key or len(dedup_key) > DEDUP_KEY_LIMIT:
            raise PagingError(f"PagerDuty: dedup_key must be 1-{DEDUP_KEY_LIMIT} characters")

    def _guard(self, doing: str, call: Callable[[], T]) -> T:
        """Run a client call; turn every failure into a PagingError without secrets."""
        try:
            return call()
        except pagerduty.Error as exc:
            response = exc.response
            if response is not None:
                detail = f"HTTP {response.status_code}{self._detail(response)}"
            else:
                # Network failure after the client's retries; its text names only the URL.
                detail = str(exc)
            raise PagingError(f"PagerDuty: {doing} failed: {self._scrub(detail)}") from None
        except (httpx2.HTTPError, pagerduty.UrlError, ValueError, TypeError) as exc:
            raise PagingError(
                f"PagerDuty: {doing} failed: {type(exc).__name__}: {self._scrub(str(exc))}"
            ) from None
        except Exception as exc:
            # Callers handle PagingError only; anything else is a bug here or in the package,
            # so its text is not trusted to be free of secrets (the traceback is logged).
            log.exception("PagerDuty: %s failed unexpectedly", doing)
            raise PagingError(f"PagerDuty: {doing} failed: {type(exc).__name__}") from None

    def _detail(self, response: httpx2.Response) -> str:
        """PagerDuty's own error text (REST `error.message`, Events `message`/`errors`)."""
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        error = body.get("error")
        parts: list[str] = []
        if isinstance(error, dict):
            parts.append(str(error.get("message") or ""))
            parts += [str(e) for e in error.get("errors") or []]
        else:
            parts.append(str(body.get("message") or ""))
            parts += [str(e) for e in body.get("errors") or []]
        text = "; ".join(p for p in parts if p)
        return f": {text[:300]}" if text else ""

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
            # The package's own messages show a secret's last four characters.
            if len(secret) > 4:
                text = text.replace("*" + secret[-4:], "***")
        return text
