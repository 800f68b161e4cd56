"""Partial flag updates: strict types, named fields, nothing unknown."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.flag import (
    FlagDocument,
    apply_change,
    is_valid_flag_key,
    parse_flag_change,
)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"enabled": False},
        {"rollout_percentage": 0},
        {"rollout_percentage": 100},
        {"enabled": True, "rollout_percentage": 25},
        {"user_segments": ["beta", "staff"]},
        {"fallback_enabled": False, "monitoring_enabled": False},
        {
            "enabled": True,
            "rollout_percentage": 5,
            "user_segments": [],
            "fallback_enabled": True,
            "monitoring_enabled": True,
        },
    ],
)
def test_subsets_are_accepted(body: dict[str, Any]) -> None:
    assert parse_flag_change(body).fields() == body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enabled": "yes"}, "enabled"),
        ({"enabled": 1}, "enabled"),
        ({"rollout_percentage": "50"}, "rollout_percentage"),
        ({"rollout_percentage": 50.5}, "rollout_percentage"),
        ({"rollout_percentage": True}, "rollout_percentage"),
        ({"user_segments": "beta"}, "user_segments"),
        ({"user_segments": [1, 2]}, "user_segments.0"),
        ({"fallback_enabled": "false"}, "fallback_enabled"),
        ({"monitoring_enabled": 0}, "monitoring_enabled"),
    ],
)
def test_wrong_types_are_rejected_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_flag_change(body)
    assert str(info.value).startswith(f"{field}: ")


@pytest.mark.parametrize("pct", [101, 150, -1])
def test_out_of_range_percentage_is_rejected(pct: int) -> None:
    with pytest.raises(ValueError, match=r"^rollout_percentage: .*(100|0)"):
        parse_flag_change({"rollout_percentage": pct})


def test_unknown_field_is_rejected_listing_the_allowed_ones() -> None:
    with pytest.raises(ValueError) as info:
        parse_flag_change({"enabled": True, "colour": "blue"})
    message = str(info.value)
    assert message.startswith("colour: unknown field")
    for allowed in FlagDocument.model_fields:
        assert allowed in message


def test_every_wrong_field_is_named() -> None:
    with pytest.raises(ValueError) as info:
        parse_flag_change({"enabled": "yes", "rollout_percentage": 150, "x": 1})
    message = str(info.value)
    assert "enabled: " in message
    assert "rollout_percentage: " in message
    assert "x: unknown field" in message


@pytest.mark.parametrize("body", [None, [], "enabled", 5, [{"enabled": True}]])
def test_non_object_body_is_rejected(body: Any) -> None:
    with pytest.raises(ValueError, match=r"^body: expected a JSON object"):
        parse_flag_change(body)


def test_apply_change_keeps_other_fields() -> None:
    doc = FlagDocument(enabled=True, rollout_percentage=25, user_segments=["beta"])
    after = apply_change(doc, parse_flag_change({"rollout_percentage": 50}))
    assert after == FlagDocument(enabled=True, rollout_percentage=50, user_segments=["beta"])
    assert doc.rollout_percentage == 25  # the original is unchanged


def test_default_document() -> None:
    assert FlagDocument().model_dump() == {
        "enabled": False,
        "rollout_percentage": 0,
        "user_segments": [],
        "fallback_enabled": True,
        "monitoring_enabled": True,
        "segment_rollouts": {},
        "variants": [],
    }


@pytest.mark.parametrize("key", ["realtime-features", "a.b", "a_b", "a~b", "A9", "x" * 100])
def test_valid_flag_keys(key: str) -> None:
    assert is_valid_flag_key(key)


@pytest.mark.parametrize("key", ["", ".", "..", "a/b", "a b", "a%20b", "x" * 101, "ü"])
def test_invalid_flag_keys(key: str) -> None:
    assert not is_valid_flag_key(key)
