"""Atlassian Statuspage (REST API v1): one Statuspage incident per rollbot incident.

The first update of an incident key creates the incident (`POST /v1/pages/{page}/incidents`)
and the id Statuspage gives it is stored in rollbot's database; later updates, also after a
restart, patch that incident (`PATCH .../incidents/{id}`). Components are named in updates
and mapped to Statuspage component ids by the config; their status follows the impact
(minor -> degraded_performance, major -> partial_outage, critical -> major_outage) and goes
back to operational when the incident is resolved.

One attempt per call: retries and fallback belong to the incident service (persisted).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import Any

import httpx

from bot.providers.statuspage.base import (
    COMPONENT_STATUS,
    StatusPageError,
    StatusUpdate,
    check_update,
)
from bot.store import statuspage as repo
from bot.store.database import Database

log = logging.getLogger(__name__)


class AtlassianStatusPage:
    """Publishes to one Statuspage page."""

    def __init__(
        self,
        db: Database,
        *,
        page_id: str,
        api_key: str,
        api_url: str = "https://api.statuspage.io",
        components: dict[str, str] | None = None,
        deliver_notifications: bool = True,
        timeout_seconds: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.db = db
        self.page_id = page_id
        self.name = f"statuspage:{page_id}"
        self.components = dict(components or {})
        self.deliver_notifications = deliver_notifications
        self._api_key = api_key
        self._client = httpx.Client(
            base_url=api_url.rstrip("/"),
            headers={"Authorization": f"OAuth {api_key}", "Accept": "application/json"},
            timeout=timeout_seconds,
            transport=transport,
        )
        # Two publishes of one new incident in this process must not create it twice.
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def check(self) -> str | None:
        """GET the page: its name, when the key and page id are right."""
        answer = self._call("GET", f"/v1/pages/{self.page_id}", None, what="page")
        return f"page {answer.get('name') or self.page_id!r} answered"

    def publish(self, update: StatusUpdate) -> str:
        """Create or update the Statuspage incident; return its shortlink (else its id)."""
        check_update(update)
        with self._locks_guard:
            lock = self._locks[update.incident_key]
        with lock:
            with self.db.session() as session:
                known = repo.external_id(session, self.name, update.incident_key)
            body = {"incident": self._incident(update, creating=known is None)}
            if known is None:
                answer = self._call("POST", f"/v1/pages/{self.page_id}/incidents", body)
                created = answer.get("id")
                if not isinstance(created, str) or not created:
                    raise StatusPageError(f"{self.name}: the created incident has no id")
                with self.db.session() as session:
                    repo.remember_external_id(
                        session, self.name, update.incident_key, created, update.at
                    )
            else:
                answer = self._call("PATCH", f"/v1/pages/{self.page_id}/incidents/{known}", body)
        reference = answer.get("shortlink") or answer.get("id")
        return str(reference)

    def _incident(self, update: StatusUpdate, creating: bool) -> dict[str, Any]:
        """The `incident` object Statuspage expects."""
        ids: dict[str, str] = {}
        for name in update.components:
            if name in self.components:
                ids[name] = self.components[name]
            else:
                # Publishing must not fail over a name: the text still goes out.
                log.warning("%s: component %r has no id in the config; skipped", self.name, name)
        status = "operational" if update.status == "resolved" else COMPONENT_STATUS[update.impact]
        incident: dict[str, Any] = {
            "name": update.title,
            "status": update.status,
            "body": update.message,
            "impact_override": update.impact,
            "component_ids": list(ids.values()),
            "components": dict.fromkeys(ids.values(), status),
        }
        if creating:
            incident["deliver_notifications"] = self.deliver_notifications
            incident["metadata"] = {"rollbot": {"incident_key": update.incident_key}}
        return incident

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None, what: str = "incident"
    ) -> dict[str, Any]:
        """One request; any failure becomes a StatusPageError without the key in it."""
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise StatusPageError(
                f"{self.name}: {method} {what}: {type(exc).__name__} ({self._scrub(str(exc))})"
            ) from None
        if not response.is_success:
            raise StatusPageError(
                f"{self.name}: {method} {what}: HTTP {response.status_code}{self._detail(response)}"
            )
        try:
            answer = response.json()
        except ValueError:
            raise StatusPageError(f"{self.name}: {method} {what}: answer is not JSON") from None
        if not isinstance(answer, dict):
            raise StatusPageError(f"{self.name}: {method} {what}: answer is not an object")
        return answer

    def _detail(self, response: httpx.Response) -> str:
        """Statuspage's own error text, if any, short and scrubbed."""
        try:
            payload = response.json()
        except ValueError:
            return ""
        if not isinstance(payload, dict):
            return ""
        error = payload.get("error") or payload.get("message")
        if not error:
            return ""
        return f": {self._scrub(str(error))[:200]}"

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text
