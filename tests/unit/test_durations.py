"""Durations as people write bake times."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("90m", timedelta(minutes=90)),
        ("4h", timedelta(hours=4)),
        ("36h", timedelta(hours=36)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        (" 2d ", timedelta(days=2)),
        ("1d 12h", timedelta(days=1, hours=12)),
        ("0s", timedelta(0)),
    ],
)
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10", "3 days", "2x", "-5m", "h", "1.5h", "d2"])
def test_parse_rejects_with_hint(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration") as info:
        parse_duration(text)
    assert "1d12h" in str(info.value)


@pytest.mark.parametrize("value", [5, None, 1.5])
def test_parse_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=-5), "0s"),
        (timedelta(seconds=40), "40s"),
        (timedelta(minutes=15), "15m"),
        (timedelta(days=2, hours=4), "2d 4h"),
        (timedelta(days=1, hours=2, minutes=3), "1d 2h"),
        (timedelta(hours=1, seconds=5), "1h 5s"),
        (timedelta(weeks=1), "7d"),
    ],
)
def test_format(delta: timedelta, expected: str) -> None:
    assert format_duration(delta) == expected
