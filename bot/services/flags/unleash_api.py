"""Unleash's client API over the in-memory flags: the feature toggles Unleash SDKs fetch and
evaluate locally (format v2), and the registration and metrics calls they make.

Metrics an SDK reports are counted as exposures: `yes` as variant `on`, `no` as `off`, and
each variant by its name (Unleash's `disabled` included).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.domain.unleash_features import feature, features
from bot.services.flags.exposures import FlagExposures
from bot.services.flags.service import FlagService
from bot.services.flags.snapshot import FlagState, segments_fingerprint


@dataclass(frozen=True)
class Features:
    """The client API's answer as bytes, with its ETag."""

    body: bytes
    etag: str


class UnleashClientApi:
    """What `<rollbot>/api/client/...` answers."""

    def __init__(self, flags: FlagService, exposures: FlagExposures) -> None:
        self.flags = flags
        self.exposures = exposures
        self._fingerprint = segments_fingerprint(flags.segments)
        self._cached: tuple[int, Features] | None = None

    def etag(self, state: FlagState) -> str:
        """The ETag of every answer at this flag state."""
        return f'"{state.version}.{self._fingerprint}"'

    def all(self, state: FlagState) -> Features:
        """`GET /api/client/features`, serialised once per flag state version."""
        cached = self._cached
        if cached is not None and cached[0] == state.version:
            return cached[1]
        body = json.dumps(features(state.docs, self.flags.segments)).encode()
        answer = Features(body, self.etag(state))
        self._cached = (state.version, answer)
        return answer

    def one(self, name: str, state: FlagState) -> Features | None:
        """`GET /api/client/features/{name}`; None when there is no such flag."""
        doc = state.docs.get(name)
        if doc is None:
            return None
        body = json.dumps(feature(name, doc, self.flags.segments)).encode()
        return Features(body, self.etag(state))

    def metrics(self, body: Any) -> int:
        """Count an SDK's metrics report; return how many toggles it named. Raises
        ValueError naming what is malformed."""
        if not isinstance(body, dict):
            raise ValueError("body: expected a JSON object with `bucket`")
        bucket = body.get("bucket")
        toggles = bucket.get("toggles") if isinstance(bucket, dict) else None
        if not isinstance(toggles, dict):
            raise ValueError("bucket.toggles: required, an object of flag name -> counts")
        counted: list[tuple[str, str, int]] = []
        for name, counts in toggles.items():
            if not isinstance(counts, dict):
                raise ValueError(f"bucket.toggles.{name}: expected an object")
            variants = counts.get("variants")
            variants = {} if variants is None else variants
            if not isinstance(variants, dict):
                raise ValueError(f"bucket.toggles.{name}.variants: expected an object")
            pairs = [("on", counts.get("yes", 0)), ("off", counts.get("no", 0))]
            for variant, times in [*pairs, *variants.items()]:
                if isinstance(times, bool) or not isinstance(times, int) or times < 0:
                    raise ValueError(
                        f"bucket.toggles.{name}: count {variant!r} must be a whole number >= 0"
                    )
                counted.append((str(name), str(variant), times))
        # Counted only once the whole report has been read, so a bad one counts nothing.
        for name, variant, times in counted:
            self.exposures.count(name, variant, times)
        return len(toggles)

    @staticmethod
    def register(body: Any) -> None:
        """Check an SDK's registration (`appName` is all Unleash requires)."""
        if not isinstance(body, dict) or not isinstance(body.get("appName"), str):
            raise ValueError("appName: required, a string")
