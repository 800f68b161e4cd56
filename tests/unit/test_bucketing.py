"""Unleash-compatible bucketing and flag evaluation."""

from __future__ import annotations

import random
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.bucketing import bucket, evaluate, in_rollout
from bot.domain.flag import FlagDocument


def test_unleash_known_vectors() -> None:
    # From Unleash's client specification (normalized hash with seed 0).
    assert bucket("gr1", "123") == 73
    assert bucket("groupX", "999") == 25


@given(user=st.text(max_size=40), group=st.text(max_size=40))
def test_bucket_is_between_1_and_100(user: str, group: str) -> None:
    assert 1 <= bucket(group, user) <= 100


@given(
    user=st.text(max_size=40),
    group=st.text(min_size=1, max_size=40),
    low=st.integers(min_value=0, max_value=100),
    high=st.integers(min_value=0, max_value=100),
)
def test_raising_the_percentage_never_turns_a_user_off(
    user: str, group: str, low: int, high: int
) -> None:
    low, high = sorted((low, high))
    if in_rollout(low, group, user):
        assert in_rollout(high, group, user)
    doc_low = FlagDocument(enabled=True, rollout_percentage=low)
    doc_high = FlagDocument(enabled=True, rollout_percentage=high)
    if evaluate(doc_low, group, user)[0]:
        assert evaluate(doc_high, group, user)[0]


@given(user=st.text(max_size=40), group=st.text(min_size=1, max_size=40))
def test_zero_is_nobody_and_hundred_is_everybody(user: str, group: str) -> None:
    assert not in_rollout(0, group, user)
    assert in_rollout(100, group, user)


def test_ten_thousand_users_at_25_percent() -> None:
    rng = random.Random(1832)
    users = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(10_000)]
    assert len(set(users)) == 10_000
    share = sum(in_rollout(25, "realtime-features", u) for u in users) / len(users)
    assert 0.235 <= share <= 0.265


def test_evaluate_uses_the_flag_key_as_group() -> None:
    doc = FlagDocument(enabled=True, rollout_percentage=73)
    assert evaluate(doc, "gr1", "123") == (True, "bucket 73 <= 73%")
    doc = FlagDocument(enabled=True, rollout_percentage=72)
    assert evaluate(doc, "gr1", "123") == (False, "bucket 73 > 72%")
    assert evaluate(doc, "other", "999", group_id="groupX") == (True, "bucket 25 <= 72%")


def test_disabled_flag_is_off_for_everyone() -> None:
    doc = FlagDocument(enabled=False, rollout_percentage=100)
    assert evaluate(doc, "f", "u1") == (False, "flag disabled")


def test_enabled_at_zero_percent_is_off() -> None:
    doc = FlagDocument(enabled=True, rollout_percentage=0)
    enabled, reason = evaluate(doc, "f", "u1")
    assert not enabled
    assert reason.endswith("> 0%")


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        (["beta"], True),
        (["staff", "beta"], True),
        (["staff"], False),
        ([], False),
    ],
)
def test_segments_limit_who_is_eligible(segments: list[str], expected: bool) -> None:
    doc = FlagDocument(enabled=True, rollout_percentage=100, user_segments=["beta", "internal"])
    enabled, reason = evaluate(doc, "f", "u1", segments)
    assert enabled is expected
    if not expected:
        assert reason == "user not in an eligible segment"


def test_no_segments_on_the_flag_means_everyone_is_eligible() -> None:
    doc = FlagDocument(enabled=True, rollout_percentage=100)
    assert evaluate(doc, "f", "u1", ["anything"])[0]
    assert evaluate(doc, "f", "u1")[0]


def test_segment_member_still_needs_to_be_in_the_percentage() -> None:
    doc = FlagDocument(enabled=True, rollout_percentage=72, user_segments=["beta"])
    assert evaluate(doc, "gr1", "123", ["beta"]) == (False, "bucket 73 > 72%")
