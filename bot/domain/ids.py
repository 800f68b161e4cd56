"""Record ids as they come back from the outside (button values, form metadata)."""

from __future__ import annotations

MAX_ID = 2**63 - 1  # the largest BIGINT; PostgreSQL and SQLite both refuse anything larger


def record_id(value: object) -> int:
    """`value` as a record id; ValueError for anything but a whole number from 0 to MAX_ID
    (a forged 10^30 would otherwise overflow the database driver)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("not a record id")
    number = int(value)
    if not 0 <= number <= MAX_ID:
        raise ValueError("record id out of range")
    return number
