"""The OpenFeature Remote Evaluation Protocol (OFREP): evaluate one flag or all of them for a
context, in the protocol's shapes (open-feature/protocol, service/openapi.yaml).

Answers come from the flags in memory. Every success carries `value` (whether the user has
the feature), `reason`, `variant` (the A/B variant's name, else `on` / `off`) and
`metadata.fallback_enabled`. A variant's payload has no place of its own in OFREP (`value`
is the flag's value, boolean here, and metadata values are scalars), so it travels as
`metadata.payload_type` and `metadata.payload` (the value as text, as Unleash holds it).

The bulk answer's ETag is built from the flag state's version, the segment definitions and
the context, so it changes whenever that answer could.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bot.domain.constraints import DATE_OPERATORS, Context
from bot.domain.flag import FlagDocument
from bot.services.flags.exposures import FlagExposures
from bot.services.flags.service import FlagService
from bot.services.flags.snapshot import FlagState, segments_fingerprint

Json = dict[str, Any]

# The context field an application names its segments in (a string or a list of them).
SEGMENT_FIELD = "segment"


@dataclass(frozen=True)
class OfrepAnswer:
    """An HTTP status, a JSON body (None for 304) and the ETag to send, if any."""

    status: int
    body: Json | None
    etag: str | None = None


class OfrepError(Exception):
    """A request OFREP answers with 400 (`code` is the protocol's error code)."""

    def __init__(self, code: str, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


def parse_context(raw: bytes) -> tuple[Context, Json]:
    """The evaluation context of a request body; raises OfrepError naming what is wrong."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise OfrepError("PARSE_ERROR", f"body: not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise OfrepError("PARSE_ERROR", 'body: expected a JSON object {"context": {...}}')
    context = body.get("context")
    if not isinstance(context, dict):
        raise OfrepError("INVALID_CONTEXT", "context: required, and must be a JSON object")
    key = context.get("targetingKey")
    if not isinstance(key, str) or not key:
        raise OfrepError(
            "TARGETING_KEY_MISSING",
            "context.targetingKey: required, a non-empty string (the user id rollbot buckets)",
        )
    named = context.get(SEGMENT_FIELD, [])
    names = [named] if isinstance(named, str) else named
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise OfrepError("INVALID_CONTEXT", "context.segment: a segment name or a list of them")
    fields = {k: v for k, v in context.items() if k not in ("targetingKey", SEGMENT_FIELD)}
    return Context(key, fields, tuple(names)), context


class Ofrep:
    """OFREP's two evaluation calls over the in-memory flags."""

    def __init__(self, flags: FlagService, exposures: FlagExposures) -> None:
        self.flags = flags
        self.exposures = exposures
        self._fingerprint = segments_fingerprint(flags.segments)
        # DATE_* constraints change answers with time alone: such ETags also carry the minute.
        self._timed = any(
            c.operator in DATE_OPERATORS for s in flags.segments.values() for c in s.constraints
        )

    def available(self) -> str | None:
        """Why OFREP cannot answer with this provider, or None when it can."""
        if self.flags.snapshot is None:
            return (
                f"flags.provider is {self.flags.provider.name!r}: OFREP and the Unleash client "
                "API serve rollbot's builtin flag store; point applications at that flag system"
            )
        return None

    def _success(self, key: str, doc: FlagDocument, context: Context) -> Json:
        r = self.flags.result(doc, key, context)
        metadata: Json = {"fallback_enabled": doc.fallback_enabled}
        if r.segment is not None:
            metadata["segment"] = r.segment
        if r.payload is not None:
            metadata["payload_type"] = r.payload.type
            metadata["payload"] = r.payload.value
        return {
            "key": key,
            "value": r.enabled,
            "reason": str(r.reason),
            "variant": r.variant,
            "metadata": metadata,
        }

    def evaluate(self, key: str, raw: bytes, state: FlagState) -> OfrepAnswer:
        """`POST /ofrep/v1/evaluate/flags/{key}`."""
        try:
            context, _ = parse_context(raw)
        except OfrepError as exc:
            return OfrepAnswer(
                400, {"key": key, "errorCode": exc.code, "errorDetails": exc.details}
            )
        doc = state.docs.get(key)
        if doc is None:
            return OfrepAnswer(
                404,
                {
                    "key": key,
                    "errorCode": "FLAG_NOT_FOUND",
                    "errorDetails": f"flag {key!r} does not exist",
                },
            )
        body = self._success(key, doc, context)
        self.exposures.count(key, body["variant"])
        return OfrepAnswer(200, body)

    def etag(self, state: FlagState, context: Json) -> str:
        """The bulk answer's ETag for this context at this flag state."""
        text = json.dumps(context, sort_keys=True, default=str)
        if self._timed:
            text += self.flags.clock.now().strftime("%Y-%m-%dT%H:%M")
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return f'"{state.version}.{self._fingerprint}.{digest}"'

    def bulk(self, raw: bytes, state: FlagState, if_none_match: str | None) -> OfrepAnswer:
        """`POST /ofrep/v1/evaluate/flags`: every flag, or 304 when the ETag still holds."""
        try:
            context, given = parse_context(raw)
        except OfrepError as exc:
            return OfrepAnswer(400, {"errorCode": exc.code, "errorDetails": exc.details})
        etag = self.etag(state, given)
        if if_none_match is not None and etag in _tags(if_none_match):
            return OfrepAnswer(304, None, etag)
        flags = [self._success(k, state.docs[k], context) for k in sorted(state.docs)]
        return OfrepAnswer(200, {"flags": flags, "metadata": {"version": str(state.version)}}, etag)


def _tags(header: str) -> set[str]:
    """The ETags of an If-None-Match header (weak ones compare as strong, as for GET)."""
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}
