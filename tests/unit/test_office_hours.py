"""Office hours: the cron expressions EventBridge Scheduler gets, and what they mean on real dates, DST included;
and the price model's reading of the same expressions."""

from __future__ import annotations

import datetime

import pytest

from components.office_hours import OfficeHours, dst_trouble
from policies.rules.pricing.schedule import cron_days, up_minutes_per_week, week_minutes

UTC = datetime.UTC
STAGING = OfficeHours("MON-FRI", "07:00", "21:00", "America/Mexico_City")
NEW_YORK = OfficeHours("MON-FRI", "07:00", "21:00", "America/New_York")


def test_cron_expressions_are_eventbridge_schedulers_six_fields_on_the_running_days() -> None:
    assert STAGING.start_cron == "cron(0 7 ? * MON-FRI *)"
    assert STAGING.stop_cron == "cron(0 21 ? * MON-FRI *)"
    assert STAGING.pause_checks_cron == "cron(55 20 ? * MON-FRI *)"
    assert STAGING.resume_checks_cron == "cron(20 7 ? * MON-FRI *)"
    assert OfficeHours("MON-SAT", "08:30", "18:45", "UTC").start_cron == "cron(30 8 ? * MON-SAT *)"


def test_local_times_keep_their_wall_clock_across_new_yorks_dst_changes() -> None:
    # EST (UTC-5) until 8 March 2026, EDT (UTC-4) until 1 November 2026.
    winter, summer = NEW_YORK.utc_times(datetime.date(2026, 3, 6)), NEW_YORK.utc_times(datetime.date(2026, 3, 9))
    assert [t.hour for t in winter] == [12, 2]  # 07:00 and 21:00 EST = 12:00 and 02:00 UTC (next day)
    assert [t.hour for t in summer] == [11, 1]
    autumn = NEW_YORK.utc_times(datetime.date(2026, 11, 2))
    assert [t.hour for t in autumn] == [12, 2]


def test_mexico_city_has_no_dst_since_2022_so_its_times_never_move() -> None:
    hours = {STAGING.utc_times(datetime.date(2026, month, 10))[0].hour for month in range(1, 13)}
    assert hours == {13}


@pytest.mark.parametrize(
    ("when", "running"),
    [
        (datetime.datetime(2026, 3, 9, 11, 0, tzinfo=UTC), True),  # Monday 07:00 EDT: just started
        (datetime.datetime(2026, 3, 9, 10, 59, tzinfo=UTC), False),  # 06:59 EDT
        (datetime.datetime(2026, 3, 6, 11, 30, tzinfo=UTC), False),  # Friday 06:30 EST: the same UTC hour, not yet
        (datetime.datetime(2026, 3, 7, 1, 30, tzinfo=UTC), True),  # Friday 20:30 EST (Saturday in UTC)
        (datetime.datetime(2026, 3, 7, 15, 0, tzinfo=UTC), False),  # Saturday
        (datetime.datetime(2026, 3, 10, 1, 0, tzinfo=UTC), False),  # Monday 21:00 EDT: stopped
    ],
)
def test_running_at_converts_any_instant_into_the_schedules_zone(when: datetime.datetime, running: bool) -> None:
    assert NEW_YORK.running_at(when) is running


def test_hours_a_week_and_a_month() -> None:
    assert STAGING.hours_per_week == 70
    assert round(STAGING.hours_per_month, 1) == 304.2


@pytest.mark.parametrize(
    ("at", "zone", "trouble"),
    [
        ("02:30", "America/New_York", "02:30 does not exist in America/New_York on 2026-03-08"),
        ("01:30", "America/New_York", "01:30 happens twice in America/New_York on 2026-11-01"),
        ("02:30", "Europe/Madrid", "02:30 does not exist in Europe/Madrid on 2026-03-29"),
        ("02:30", "America/Mexico_City", None),
        ("07:00", "America/New_York", None),
    ],
)
def test_a_time_a_dst_change_skips_or_repeats_is_found(at: str, zone: str, trouble: str | None) -> None:
    found = dst_trouble(at, zone, (2026, 2027))
    assert (found if trouble is None else found and found.split(" (")[0]) == trouble


# ----------------------------------------------------------------- the price model reads the same expressions


def test_the_price_model_reads_the_schedulers_day_fields() -> None:
    assert cron_days("MON-FRI") == [1, 2, 3, 4, 5]
    assert cron_days("SAT,SUN") == [0, 6]
    assert cron_days("FRI-MON") == [0, 1, 5, 6]
    assert cron_days("2-6") == [1, 2, 3, 4, 5]
    assert cron_days("*") == list(range(7))


def test_the_price_model_counts_the_hours_between_each_start_and_the_next_stop() -> None:
    starts, stops = week_minutes(STAGING.start_cron), week_minutes(STAGING.stop_cron)
    assert starts is not None and stops is not None
    assert up_minutes_per_week(starts, stops) / 60 == STAGING.hours_per_week
    # Started Monday, stopped Friday night only: up from Monday 07:00 to Friday 21:00.
    monday = week_minutes("cron(0 7 ? * MON *)")
    friday = week_minutes("cron(0 21 ? * FRI *)")
    assert monday and friday and up_minutes_per_week(monday, friday) / 60 == 4 * 24 + 14
    assert week_minutes("rate(1 hour)") is None
