"""The unleash flag provider: rollbot's percentage as an Unleash flexibleRollout strategy.

In the configured project and environment, rollbot owns one flexibleRollout strategy per flag
(the one whose `groupId` is the flag key, else the first flexibleRollout). The document maps:

- `rollout_percentage` -> the strategy's `rollout` parameter, a string ("25"), with
  `groupId` = flag key and `stickiness` = "default" (the user id when there is one), so
  Unleash buckets users exactly as rollbot's /flags/{key}/evaluate does;
- `enabled` -> the environment's on/off switch (`POST .../environments/{env}/on|off`);
- `user_segments` -> an `IN` constraint on a context field (`segment` by default) of that
  strategy; no segments, no constraint.
- `segment_rollouts` -> per segment, flexibleRollout strategies of its own (Unleash turns a
  flag on for a user when any strategy does, as rollbot's evaluation takes the largest
  percentage that applies): one titled `rollbot segment <name>` with the segment's
  constraints from `flags.segments`, and one titled `rollbot segment <name> (named)` with an
  `IN [name]` constraint on the segment context field, for applications that name their
  segment outright (a segment the config lacks gets only that one). rollbot recognises its
  segment strategies by those titles; read back, they give `segment_rollouts` again.
- `fallback_enabled` and `monitoring_enabled` have no Unleash counterpart: they are
  accepted, recorded in rollbot's audit trail, and read back as their defaults.

Unleash stores any rollout number it is given, so the range is checked here, first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from bot.clock import Clock
from bot.domain.actor import Actor
from bot.domain.constraints import Segment
from bot.domain.flag import FlagChange, FlagDocument, apply_change
from bot.providers.flags.base import FlagProviderError
from bot.providers.flags.remote import RemoteClient, check_percentage, flush_pending, record_change
from bot.store.database import Database, Transaction

Json = dict[str, Any]
Undo = tuple[str, str, Json | None]  # method, path, body: how to take one remote step back

# Titles of the strategies rollbot keeps for a segment's own percentage (`segment_rollouts`).
SEGMENT_TITLE = "rollbot segment "
NAMED_SUFFIX = " (named)"


class UnleashFlagProvider:
    """Sets percentages and on/off in Unleash through its Admin API."""

    name = "unleash"

    def __init__(
        self,
        db: Database,
        clock: Clock,
        base_url: str,
        token: str,
        token_env: str,
        project: str = "default",
        environment: str = "development",
        segment_context: str = "segment",
        segments: Mapping[str, Segment] | None = None,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.project = project
        self.environment = environment
        self.segment_context = segment_context
        # The config's segment definitions: their constraints go into segment strategies.
        self.segments = dict(segments or {})
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.remote = RemoteClient(
            "Unleash",
            base_url,
            # Unleash takes its API tokens bare in Authorization (no "Bearer").
            {"Authorization": token, "Accept": "application/json"},
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

    # -- paths ----------------------------------------------------------------------------

    def _feature(self, key: str) -> str:
        return f"/api/admin/projects/{quote(self.project, safe='')}/features/{quote(key, safe='')}"

    def _env(self, key: str) -> str:
        return f"{self._feature(key)}/environments/{quote(self.environment, safe='')}"

    # -- reading --------------------------------------------------------------------------

    def get(self, key: str) -> FlagDocument | None:
        """The flag as rollbot sees it in the configured environment, or None if missing."""
        feature = self._read(key)
        return None if feature is None else self._document(key, self._environment(key, feature))

    def _read(self, key: str) -> Json | None:
        response = self.remote.request("GET", self._feature(key), expect=(200, 404))
        return None if response.status_code == 404 else _json(response)

    def _environment(self, key: str, feature: Json) -> Json:
        envs = feature.get("environments") or []
        for env in envs:
            if env.get("name") == self.environment:
                return dict(env)
        names = ", ".join(str(e.get("name")) for e in envs) or "none"
        raise FlagProviderError(
            f"Unleash flag `{key}` has no environment {self.environment!r} in project "
            f"{self.project!r} (environments: {names}).",
            "Set flags.unleash.environment to one of them, or enable it for the project.",
        )

    def _ours(self, key: str, env: Json) -> Json | None:
        """The flexibleRollout strategy rollbot manages for this flag's percentage for
        everyone, if there is one (never one of its segment strategies)."""
        rollouts = [
            s
            for s in env.get("strategies") or []
            if s.get("name") == "flexibleRollout" and _segment_of(s) is None
        ]
        for strategy in rollouts:
            if (strategy.get("parameters") or {}).get("groupId") == key:
                return dict(strategy)
        return dict(rollouts[0]) if rollouts else None

    def _document(self, key: str, env: Json) -> FlagDocument:
        ours = self._ours(key, env)
        strategies = env.get("strategies") or []
        if ours is not None:
            percentage = _rollout(key, ours)
        elif env.get("enabled") and (
            not strategies or any(s.get("name") == "default" for s in strategies)
        ):
            percentage = 100  # Unleash shows an enabled flag with no rollout to everyone
        else:
            percentage = 0
        return FlagDocument(
            enabled=bool(env.get("enabled")),
            rollout_percentage=percentage,
            user_segments=self._segments(ours),
            segment_rollouts=self._segment_rollouts(key, env),
        )

    def _segment_rollouts(self, key: str, env: Json) -> dict[str, int]:
        """The percentages rollbot's segment strategies give (the largest, should someone
        have edited one of a pair in Unleash)."""
        found: dict[str, int] = {}
        for strategy in env.get("strategies") or []:
            named = _segment_of(strategy)
            if named is None or strategy.get("disabled"):
                continue
            pct = _rollout(key, strategy)
            found[named] = max(pct, found.get(named, 0))
        return found

    def _segments(self, strategy: Json | None) -> list[str]:
        for c in (strategy or {}).get("constraints") or []:
            if c.get("contextName") == self.segment_context and c.get("operator") == "IN":
                return [str(v) for v in c.get("values") or []]
        return []

    # -- changing -------------------------------------------------------------------------

    def apply(
        self, key: str, change: FlagChange, actor: Actor, within: Transaction | None = None
    ) -> FlagDocument:
        """Create the flag if missing, set the strategy and the environment switch; audit it.

        Turning off goes first when disabling (users are protected before anything else) and
        last when enabling (the percentage is right before anyone sees the flag). If a later
        call fails, the earlier ones are undone, best effort, and the error says whether that
        worked; the caller's transaction then rolls back.
        """
        check_percentage(change)
        flush_pending(within)
        feature = self._read(key)
        created = feature is None
        if feature is None:
            self._create(key)
            feature = self._read(key)
            if feature is None:
                raise FlagProviderError(
                    f"Unleash accepted flag `{key}` but does not show it afterwards.",
                    f"Check project {self.project!r} in Unleash.",
                )
        env = self._environment(key, feature)
        current = self._document(key, env)
        after = apply_change(current, change)
        if after.enabled:
            self._refuse_unbounded(key, env)
        done: list[Undo] = []
        try:
            if current.enabled and not after.enabled:
                self._switch(key, on=False, done=done)
            if created or self._ours(key, env) is None or _differs(current, after):
                self._set_strategy(key, env, after, done)
            self._set_segment_strategies(key, env, after, done)
            if after.enabled and not current.enabled:
                self._switch(key, on=True, done=done)
        except FlagProviderError as exc:
            raise self._undo(done, exc) from None
        record_change(
            self.db, self.clock, within, provider=self.name, key=key, actor=actor,
            before=None if created else current, after=after,
        )  # fmt: skip
        return after

    def _create(self, key: str) -> None:
        self.remote.request(
            "POST",
            f"/api/admin/projects/{quote(self.project, safe='')}/features",
            json={"name": key, "type": "release", "description": "Rolled out by rollbot."},
            expect=(200, 201, 409),  # 409: created meanwhile by someone else; use theirs
            safe_to_repeat=True,  # a repeat answers 409, which is handled
        )

    def _refuse_unbounded(self, key: str, env: Json) -> None:
        """Unleash ORs strategies: an unconditional `default` strategy beside ours would show
        the flag to everyone, whatever the percentage. Refuse rather than mislead."""
        for s in env.get("strategies") or []:
            if s.get("name") == "default" and not s.get("disabled") and not s.get("constraints"):
                raise FlagProviderError(
                    f"Unleash flag `{key}` has a `default` strategy in {self.environment!r} "
                    "that shows it to every user, so a percentage would mean nothing.",
                    "Remove that strategy in Unleash (rollbot manages a flexibleRollout one).",
                )

    def _strategy_body(self, key: str, base: Json | None, doc: FlagDocument) -> Json:
        base = base or {}
        parameters = {
            **(base.get("parameters") or {}),
            # Unleash wants strings here; the range was checked before any call.
            "rollout": str(doc.rollout_percentage),
            "stickiness": "default",
            "groupId": key,
        }
        constraints = [
            c for c in base.get("constraints") or [] if c.get("contextName") != self.segment_context
        ]
        if doc.user_segments:
            constraints.append(
                {
                    "contextName": self.segment_context,
                    "operator": "IN",
                    "values": list(doc.user_segments),
                    "caseInsensitive": False,
                    "inverted": False,
                }
            )
        body: Json = {
            "name": "flexibleRollout",
            "disabled": False,
            "parameters": parameters,
            "constraints": constraints,
        }
        for optional in ("title", "segments", "variants"):
            if base.get(optional) is not None:
                body[optional] = base[optional]
        return body

    def _set_strategy(self, key: str, env: Json, doc: FlagDocument, done: list[Undo]) -> None:
        ours = self._ours(key, env)
        path = f"{self._env(key)}/strategies"
        if ours is not None:
            self.remote.request(
                "PUT", f"{path}/{ours['id']}", json=self._strategy_body(key, ours, doc)
            )
            previous = {k: v for k, v in ours.items() if k in _STRATEGY_FIELDS}
            done.append(("PUT", f"{path}/{ours['id']}", previous))
            return
        response = self.remote.request(
            "POST",
            path,
            json=self._strategy_body(key, None, doc),
            expect=(200, 201),
            safe_to_repeat=False,  # a second POST would add a second strategy
        )
        done.append(("DELETE", f"{path}/{_json(response)['id']}", None))

    def _segment_bodies(self, key: str, doc: FlagDocument) -> dict[str, Json]:
        """The segment strategies the document needs, by title."""
        bodies: dict[str, Json] = {}
        for name, pct in sorted(doc.segment_rollouts.items()):
            named = {
                "contextName": self.segment_context,
                "operator": "IN",
                "values": [name],
                "caseInsensitive": False,
                "inverted": False,
            }
            pairs: list[tuple[str, list[Json]]] = [
                (f"{SEGMENT_TITLE}{name}{NAMED_SUFFIX}", [named])
            ]
            if name in self.segments:
                defined = [c.unleash() for c in self.segments[name].constraints]
                pairs.insert(0, (f"{SEGMENT_TITLE}{name}", defined))
            for title, constraints in pairs:
                bodies[title] = {
                    "name": "flexibleRollout",
                    "title": title,
                    "disabled": False,
                    "parameters": {"rollout": str(pct), "stickiness": "default", "groupId": key},
                    "constraints": constraints,
                }
        return bodies

    def _set_segment_strategies(
        self, key: str, env: Json, doc: FlagDocument, done: list[Undo]
    ) -> None:
        """Make rollbot's segment strategies say `doc.segment_rollouts`: change those that
        differ, add the missing, delete those of segments no longer given a percentage.
        Nothing is sent when they already agree."""
        path = f"{self._env(key)}/strategies"
        wanted = self._segment_bodies(key, doc)
        existing: dict[str, Json] = {}
        for strategy in env.get("strategies") or []:
            if _segment_of(strategy) is not None:
                existing.setdefault(str(strategy.get("title")), dict(strategy))
        for title, body in wanted.items():
            have = existing.get(title)
            if have is None:
                response = self.remote.request(
                    "POST", path, json=body, expect=(200, 201), safe_to_repeat=False
                )
                done.append(("DELETE", f"{path}/{_json(response)['id']}", None))
            elif _shape(have) != _shape(body):
                self.remote.request("PUT", f"{path}/{have['id']}", json=body)
                previous = {k: v for k, v in have.items() if k in _STRATEGY_FIELDS}
                done.append(("PUT", f"{path}/{have['id']}", previous))
        for title, have in existing.items():
            if title not in wanted:
                self.remote.request("DELETE", f"{path}/{have['id']}", expect=(200, 204))
                previous = {k: v for k, v in have.items() if k in _STRATEGY_FIELDS}
                done.append(("POST", path, previous))

    def _switch(self, key: str, on: bool, done: list[Undo]) -> None:
        self.remote.request("POST", f"{self._env(key)}/{'on' if on else 'off'}")
        done.append(("POST", f"{self._env(key)}/{'off' if on else 'on'}", None))

    def _undo(self, done: list[Undo], error: FlagProviderError) -> FlagProviderError:
        """Take back the calls that succeeded before `error`, newest first."""
        if not done:
            return error
        try:
            for method, path, body in reversed(done):
                self.remote.request(method, path, json=body, expect=(200, 201, 204))
        except FlagProviderError as undo_error:
            error.message += (
                f" Undoing the earlier calls failed too ({undo_error.message}): Unleash may be "
                "partly changed."
            )
            error.hint = "Check the flag in Unleash before trying again."
        else:
            error.message += " The calls made before it were undone."
        error.args = (error.message,)
        return error


_STRATEGY_FIELDS = (
    "name", "title", "disabled", "parameters", "constraints", "segments", "variants",
)  # fmt: skip


def _segment_of(strategy: Json) -> str | None:
    """The segment one of rollbot's segment strategies is for (None for other strategies)."""
    title = strategy.get("title")
    if strategy.get("name") != "flexibleRollout" or not isinstance(title, str):
        return None
    if not title.startswith(SEGMENT_TITLE):
        return None
    return title.removeprefix(SEGMENT_TITLE).removesuffix(NAMED_SUFFIX)


def _rollout(key: str, strategy: Json) -> int:
    """A flexibleRollout's `rollout` parameter as a percentage from 0 to 100."""
    raw = (strategy.get("parameters") or {}).get("rollout", "0")
    try:
        percentage = int(str(raw))
    except ValueError:
        raise FlagProviderError(
            f"Unleash flag `{key}` has rollout {raw!r}, which is not a whole number.",
            "Fix the flexibleRollout strategy in Unleash, then try again.",
        ) from None
    # Someone may have typed 150 into Unleash; clamp what we report, never crash.
    return max(0, min(100, percentage))


def _shape(strategy: Json) -> tuple[object, ...]:
    """What matters of a segment strategy when comparing it with the one wanted (Unleash
    adds ids, empty fields and defaults of its own)."""
    params = strategy.get("parameters") or {}
    constraints = tuple(
        (
            c.get("contextName"),
            c.get("operator"),
            tuple(c.get("values") or ()),
            c.get("value") or None,
            bool(c.get("caseInsensitive")),
            bool(c.get("inverted")),
        )
        for c in strategy.get("constraints") or []
    )
    rollout = tuple(str(params.get(k)) for k in ("rollout", "stickiness", "groupId"))
    return bool(strategy.get("disabled")), rollout, constraints


def _differs(before: FlagDocument, after: FlagDocument) -> bool:
    return (before.rollout_percentage, before.user_segments) != (
        after.rollout_percentage,
        after.user_segments,
    )


def _json(response: httpx.Response) -> Json:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise FlagProviderError(
            f"Unleash answered {response.request.method} {response.request.url.path} "
            "with something that is not a JSON object.",
            "Check that flags.unleash.base_url points at Unleash (not a proxy's error page).",
        )
    return body
