"""A small in-memory Unleash Admin API for fast unit tests (an httpx.MockTransport handler).

It answers only the calls the unleash provider makes, the way the real server does (checked
against unleash-server 7.5 in tests/integration/test_unleash_provider.py): new flags are off
in every environment, strategy parameters are stored as strings, any rollout number is
accepted, unknown flags are 404, a wrong token is 401, a duplicate name is 409.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

ENVIRONMENTS = ("development", "production")
_FEATURE = re.compile(r"^/api/admin/projects/(?P<p>[^/]+)/features(?:/(?P<f>[^/]+))?$")
_ENV = re.compile(
    r"^/api/admin/projects/(?P<p>[^/]+)/features/(?P<f>[^/]+)/environments/(?P<e>[^/]+)"
    r"/(?P<rest>on|off|strategies(?:/(?P<sid>[^/]+))?)$"
)


@dataclass
class FakeUnleash:
    """State plus a handler; `fail` maps "METHOD /path-suffix" to statuses answered first."""

    token: str
    projects: set[str] = field(default_factory=lambda: {"default"})
    features: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    fail: dict[str, list[int]] = field(default_factory=dict)

    def transport(self) -> httpx.MockTransport:
        """An httpx transport served by this fake."""
        return httpx.MockTransport(self.handle)

    def env(self, flag: str, env: str = "development", project: str = "default") -> dict[str, Any]:
        """One environment of a flag, as stored."""
        envs: dict[str, dict[str, Any]] = self.features[(project, flag)]["environments"]
        return envs[env]

    def add_feature(self, name: str, project: str = "default") -> None:
        """Create a flag as Unleash does: off everywhere, no strategies."""
        self.features[(project, name)] = {
            "name": name,
            "project": project,
            "environments": {
                e: {"name": e, "enabled": False, "strategies": []} for e in ENVIRONMENTS
            },
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        self.calls.append(f"{method} {path}")
        if request.headers.get("authorization") not in (self.token, f"Bearer {self.token}"):
            return _error(401, "UnauthorizedError", "You must log in to use Unleash.")
        for suffix, statuses in self.fail.items():
            want_method, _, want_suffix = suffix.partition(" ")
            if method == want_method and path.endswith(want_suffix) and statuses:
                return _error(statuses.pop(0), "InternalError", "injected failure")
        body = json.loads(request.content) if request.content else None
        if m := _FEATURE.match(path):
            return self._features(method, m["p"], m["f"], body)
        if m := _ENV.match(path):
            return self._environment(method, m["p"], m["f"], m["e"], m["rest"], m["sid"], body)
        return _error(404, "NotFoundError", f"no route {method} {path}")

    def _features(self, method: str, project: str, flag: str | None, body: Any) -> httpx.Response:
        if project not in self.projects:
            return _error(404, "NotFoundError", f"Active project with id {project} does not exist")
        if flag is None and method == "POST":
            if (project, body["name"]) in self.features:
                return _error(409, "NameExistsError", "A flag with that name already exists")
            self.add_feature(body["name"], project)
            return httpx.Response(201, json={"name": body["name"], "project": project})
        feature = self.features.get((project, flag or ""))
        if feature is None or method != "GET":
            return _error(404, "NotFoundError", f'There\'s no feature named "{flag}"')
        return httpx.Response(
            200, json={**feature, "environments": list(feature["environments"].values())}
        )

    def _environment(
        self, method: str, project: str, flag: str, env_name: str, rest: str, sid: str | None,
        body: Any,
    ) -> httpx.Response:  # fmt: skip
        feature = self.features.get((project, flag))
        if feature is None:
            return _error(404, "NotFoundError", f'There\'s no feature named "{flag}"')
        env = feature["environments"].get(env_name)
        if env is None:
            return _error(404, "NotFoundError", f"Feature {flag} does not have environment")
        if rest in ("on", "off") and method == "POST":
            env["enabled"] = rest == "on"
            return httpx.Response(200)
        strategies: list[dict[str, Any]] = env["strategies"]
        if sid is None and method == "POST":
            strategy = _strategy(str(uuid.uuid4()), body)
            strategies.append(strategy)
            return httpx.Response(200, json=strategy)
        index = next((i for i, s in enumerate(strategies) if s["id"] == sid), None)
        if index is None:
            return _error(404, "NotFoundError", f"no strategy {sid}")
        if method == "PUT":
            strategies[index] = _strategy(str(sid), body)
            return httpx.Response(200, json=strategies[index])
        if method == "DELETE":
            del strategies[index]
            return httpx.Response(200)
        return _error(405, "MethodNotAllowed", method)


def _strategy(sid: str, body: dict[str, Any]) -> dict[str, Any]:
    # Unleash turns every parameter into a string and does not check the rollout's range.
    return {
        "id": sid,
        "name": body["name"],
        "title": body.get("title"),
        "disabled": bool(body.get("disabled", False)),
        "parameters": {k: str(v) for k, v in (body.get("parameters") or {}).items()},
        "constraints": list(body.get("constraints") or []),
        "segments": list(body.get("segments") or []),
        "variants": list(body.get("variants") or []),
    }


def _error(status: int, name: str, message: str) -> httpx.Response:
    return httpx.Response(
        status, json={"name": name, "message": message, "details": [{"message": message}]}
    )
