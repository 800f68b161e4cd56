"""Whether a user has a flag's feature, which variant, and why: the one evaluation that
/flags/{key}/evaluate, OFREP and rollbot's Unleash client API all give.

The rules are those of Unleash's flexibleRollout strategies, so an Unleash SDK given the
same flag (bot/domain/unleash_features.py) answers the same for every user:

- a disabled flag is off for everyone;
- `rollout_percentage` applies to everyone, or, when `user_segments` is not empty, to the
  users in one of those segments (named by the caller, or matched by the segment's
  constraints from config);
- each of `segment_rollouts` applies its own percentage to the users its segment matches;
- the user has the feature when the largest percentage that applies lets their bucket in
  (one bucket per user and flag, so this is "any of the strategies is on");
- a user who has it gets a variant (an override naming them, else Unleash's variant
  hashing), with the variant's payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.bucketing import bucket
from bot.domain.constraints import Context, Segment
from bot.domain.flag import FlagDocument
from bot.domain.variants import OFF, ON, Payload, variant_for


class Reason(StrEnum):
    """Why a flag evaluated as it did, in OpenFeature's words."""

    STATIC = "STATIC"  # the same answer for everyone: 0% or 100%, no segments involved
    TARGETING_MATCH = "TARGETING_MATCH"  # a segment decided it
    SPLIT = "SPLIT"  # the user's bucket against a percentage between 1 and 99
    DISABLED = "DISABLED"  # the flag is off


@dataclass(frozen=True)
class FlagResult:
    """The answer for one user: on or off, the variant (and its payload), the reason, and a
    sentence why."""

    enabled: bool
    variant: str
    reason: Reason
    detail: str
    segment: str | None = None
    payload: Payload | None = None


def segment_matches(
    name: str, context: Context, segments: Mapping[str, Segment], now: datetime
) -> bool:
    """True when the caller names the segment or its constraints from config hold."""
    if name in context.segments:
        return True
    segment = segments.get(name)
    return segment is not None and segment.matches(context, now)


def evaluate_flag(
    doc: FlagDocument,
    key: str,
    context: Context,
    segments: Mapping[str, Segment],
    now: datetime,
) -> FlagResult:
    """Evaluate the flag `key` for the context; segments are the config's definitions."""
    if not doc.enabled:
        return FlagResult(False, OFF, Reason.DISABLED, "flag disabled")
    grants: list[tuple[int, str | None]] = []
    targeted = bool(doc.user_segments)
    if not targeted or any(segment_matches(s, context, segments, now) for s in doc.user_segments):
        grants.append((doc.rollout_percentage, None))
    for name, pct in doc.segment_rollouts.items():
        if segment_matches(name, context, segments, now):
            grants.append((pct, name))
            targeted = True
    if not grants:
        return FlagResult(False, OFF, Reason.TARGETING_MATCH, "user not in an eligible segment")
    # The largest percentage wins; on a tie the segment's, so the reason names it.
    pct, segment = max(grants, key=lambda g: (g[0], g[1] is not None))
    where = f" (segment {segment})" if segment else ""
    if pct in (0, 100):
        reason = Reason.TARGETING_MATCH if targeted else Reason.STATIC
    else:
        reason = Reason.SPLIT
    if context.user_id is None:
        # Nothing to bucket: only 0% and 100% have an answer for everyone.
        enabled = pct == 100
        detail = f"no user id; {pct}%{where}"
    else:
        n = bucket(key, context.user_id)
        enabled = pct > 0 and n <= pct
        detail = f"bucket {n} {'<=' if enabled else '>'} {pct}%{where}"
    if not enabled:
        return FlagResult(False, OFF, reason, detail, segment)
    chosen = variant_for(doc.variants, key, context)
    if chosen is None:
        return FlagResult(True, ON, reason, detail, segment)
    return FlagResult(True, chosen.name, reason, detail, segment, chosen.payload)
