"""A fake Atlassian Statuspage REST API v1 (incidents), served over real HTTP.

A Starlette app run by uvicorn on 127.0.0.1 and an ephemeral port, so the provider under
test goes through httpx, JSON encoding and status handling as in production. It records
every call, checks `Authorization: OAuth <key>`, keeps the incidents it created, and can be
told to answer the next requests with an error (e.g. 500 then 200).

    with FakeStatuspage(api_key="k") as fake:
        fake.fail_next(500)
        ...
        assert [c.method for c in fake.calls] == ["POST", "POST"]

Also usable as a fixture via `fake_statuspage_fixture`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API_KEY = "sp-test-key-0123456789"


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class FakeStatuspage:
    """The fake server; use as a context manager."""

    api_key: str = API_KEY
    calls: list[Call] = field(default_factory=list)
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    _failures: deque[int] = field(default_factory=deque)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, in order, before behaving again."""
        with self._lock:
            self._failures.extend(statuses)

    def _record(self, request: Request, body: Any, status: int) -> None:
        self.calls.append(
            Call(request.method, request.url.path, dict(request.headers), body, status)
        )

    async def _page(self, request: Request) -> JSONResponse:
        """GET a page: its id and name, for the right key."""
        if request.headers.get("authorization") != f"OAuth {self.api_key}":
            self._record(request, None, 401)
            return JSONResponse({"error": "Could not authenticate"}, 401)
        self._record(request, None, 200)
        page_id = request.path_params["page_id"]
        return JSONResponse({"id": page_id, "name": f"Page {page_id}"}, 200)

    async def _handle(self, request: Request) -> JSONResponse:
        raw = await request.body()
        body: Any = None
        if raw:
            body = json.loads(raw)
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            self._record(request, body, failure)
            return JSONResponse({"error": "Internal server error (scripted)"}, failure)
        if request.headers.get("authorization") != f"OAuth {self.api_key}":
            self._record(request, body, 401)
            return JSONResponse({"error": "Could not authenticate"}, 401)
        page_id = request.path_params["page_id"]
        incident = (body or {}).get("incident")
        if not isinstance(incident, dict):
            self._record(request, body, 422)
            return JSONResponse({"error": "incident is missing"}, 422)
        if request.method == "POST":
            incident_id = f"inc{next(self._ids):04d}"
            stored = {
                "id": incident_id,
                "page_id": page_id,
                "shortlink": f"https://stspg.io/{incident_id}",
                **incident,
            }
            self.incidents[incident_id] = stored
            self._record(request, body, 201)
            return JSONResponse(stored, 201)
        incident_id = request.path_params["incident_id"]
        if incident_id not in self.incidents:
            self._record(request, body, 404)
            return JSONResponse({"error": "Incident not found"}, 404)
        self.incidents[incident_id].update(incident)
        self._record(request, body, 200)
        return JSONResponse(self.incidents[incident_id], 200)

    def __enter__(self) -> FakeStatuspage:
        app = Starlette(
            routes=[
                Route("/v1/pages/{page_id}", self._page, methods=["GET"]),
                Route("/v1/pages/{page_id}/incidents", self._handle, methods=["POST"]),
                Route(
                    "/v1/pages/{page_id}/incidents/{incident_id}",
                    self._handle,
                    methods=["PATCH"],
                ),
            ]
        )
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, name="fake-statuspage")
        self._thread.daemon = True
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Statuspage server did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def fake_statuspage_fixture() -> Iterator[FakeStatuspage]:
    """A running fake; wire with `fake_statuspage = pytest.fixture(fake_statuspage_fixture)`."""
    with FakeStatuspage() as fake:
        yield fake
