"""Digest slots from cron expressions (APScheduler's CronTrigger), in their timezone,
across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config.digests import cron_trigger
from bot.services.digests.schedule import latest_slot, next_slot, slots_between

BERLIN_WEEKDAYS = cron_trigger("0 9 * * MON-FRI", "Europe/Berlin")


def test_weekday_slots_follow_berlin_time_across_the_spring_change() -> None:
    # Clocks go forward on Sunday 2026-03-29: 09:00 Berlin is 08:00 UTC before, 07:00 after.
    slots = slots_between(
        BERLIN_WEEKDAYS,
        datetime(2026, 3, 26, 12, tzinfo=UTC),
        datetime(2026, 3, 31, 12, tzinfo=UTC),
    )
    assert slots == [
        datetime(2026, 3, 27, 8, tzinfo=UTC),  # Friday, CET
        datetime(2026, 3, 30, 7, tzinfo=UTC),  # Monday, CEST
        datetime(2026, 3, 31, 7, tzinfo=UTC),
    ]


def test_weekday_slots_follow_berlin_time_across_the_autumn_change() -> None:
    # Clocks go back on Sunday 2026-10-25.
    friday = next_slot(BERLIN_WEEKDAYS, datetime(2026, 10, 23, 0, tzinfo=UTC))
    monday = next_slot(BERLIN_WEEKDAYS, datetime(2026, 10, 24, 0, tzinfo=UTC))
    assert friday == datetime(2026, 10, 23, 7, tzinfo=UTC)
    assert monday == datetime(2026, 10, 26, 8, tzinfo=UTC)


def test_a_slot_in_the_skipped_hour_is_posted_once_on_the_day() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29 (clocks jump 02:00 -> 03:00): that day's
    # slot comes at 03:30 CEST (01:30 UTC), once.
    nightly = cron_trigger("30 2 * * *", "Europe/Berlin")
    assert slots_between(
        nightly, datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 3, 30, 12, tzinfo=UTC)
    ) == [datetime(2026, 3, 29, 1, 30, tzinfo=UTC), datetime(2026, 3, 30, 0, 30, tzinfo=UTC)]


def test_a_slot_in_the_repeated_hour_is_posted_once_on_the_day() -> None:
    # 02:30 happens twice in Berlin on 2026-10-25 (clocks go 03:00 -> 02:00): one slot.
    nightly = cron_trigger("30 2 * * *", "Europe/Berlin")
    assert slots_between(
        nightly, datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 26, 12, tzinfo=UTC)
    ) == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 26, 1, 30, tzinfo=UTC)]
    assert all(
        s.tzinfo is UTC
        for s in slots_between(
            nightly, datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 26, 12, tzinfo=UTC)
        )
    )


def test_the_latest_slot_is_the_one_posted_after_a_long_gap() -> None:
    every_minute = cron_trigger("* * * * *", "UTC")
    after = datetime(2026, 1, 1, tzinfo=UTC)
    until = after + timedelta(days=30, seconds=30)
    assert latest_slot(every_minute, after, until) == after + timedelta(days=30)
    yearly = cron_trigger("0 9 1 1 *", "UTC")
    assert latest_slot(yearly, after, datetime(2029, 6, 1, tzinfo=UTC)) == datetime(
        2029, 1, 1, 9, tzinfo=UTC
    )


def test_no_slot_is_due_before_the_first_one() -> None:
    after = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # Monday's slot, already recorded
    assert latest_slot(BERLIN_WEEKDAYS, after, after + timedelta(hours=23)) is None
    assert latest_slot(BERLIN_WEEKDAYS, after, after + timedelta(days=1)) == after + timedelta(
        days=1
    )
