"""Unleash-compatible percentage bucketing.

A user's bucket is `murmur3_x86_32("{group_id}:{user_id}", seed=0) % 100 + 1`, exactly as
Unleash's flexibleRollout strategy computes it, so moving a flag between rollbot and Unleash
keeps every user on the same side. Buckets do not depend on the percentage, so raising the
percentage only ever adds users.
"""

from __future__ import annotations

import mmh3

from bot.domain.flag import FlagDocument


def bucket(group_id: str, user_id: str) -> int:
    """The user's bucket, 1..100."""
    return int(mmh3.hash(f"{group_id}:{user_id}", 0, signed=False)) % 100 + 1


def in_rollout(percentage: int, group_id: str, user_id: str) -> bool:
    """True when a user with this id falls inside a rollout of `percentage`."""
    return percentage > 0 and bucket(group_id, user_id) <= percentage


def evaluate(
    doc: FlagDocument,
    flag_key: str,
    user_id: str,
    segments: list[str] | tuple[str, ...] = (),
    group_id: str | None = None,
) -> tuple[bool, str]:
    """Whether a user sees the feature, and why (for people debugging a rollout)."""
    if not doc.enabled:
        return False, "flag disabled"
    if doc.user_segments and not set(segments) & set(doc.user_segments):
        return False, "user not in an eligible segment"
    n = bucket(group_id or flag_key, user_id)
    if doc.rollout_percentage > 0 and n <= doc.rollout_percentage:
        return True, f"bucket {n} <= {doc.rollout_percentage}%"
    return False, f"bucket {n} > {doc.rollout_percentage}%"
