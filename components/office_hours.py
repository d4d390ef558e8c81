"""OfficeHours: when a stack's host runs under a `schedule` other than `always`.

Pure data and time arithmetic, no resources: the settings check a schedule with it
(components/config_sections.py), the schedule component turns it into EventBridge
Scheduler cron expressions (components/aws/schedule.py), and the tests check the
expressions and the time-zone handling against real dates, DST changes included.

The times are wall-clock times in an IANA time zone: EventBridge Scheduler evaluates
`cron(...)` in `ScheduleExpressionTimezone`, so 07:00 stays 07:00 local across a DST
change (12:00 UTC in New York's winter, 11:00 UTC in its summer). A start or stop in
the hour a DST change skips or repeats would run at a surprising time or twice, so
such times are refused.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

DAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
DAY_SETS = {"MON-FRI": DAY_NAMES[:5], "MON-SAT": DAY_NAMES[:6], "MON-SUN": DAY_NAMES}
HOURS_PER_MONTH = 730  # AWS's convention for monthly prices
WEEKS_PER_MONTH = HOURS_PER_MONTH / (7 * 24)
# The host boots, Docker starts every container and the health checks turn green within this.
WARM_UP_MINUTES = 20
# The site's external health check is paused this long before the stop, so the stop itself is never seen.
PAUSE_BEFORE_STOP_MINUTES = 5
# A backup needs the host up from the warm-up on, and time to finish before the stop.
BACKUP_BEFORE_STOP_MINUTES = 60


def minutes(hhmm: str) -> int:
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


def hhmm(total: int) -> str:
    return f"{total // 60:02d}:{total % 60:02d}"


@dataclass(frozen=True)
class OfficeHours:
    """The host runs from `start` to `stop` (same day, local time in `time_zone`) on `days`."""

    days: str
    """One of DAY_SETS: MON-FRI, MON-SAT or MON-SUN."""
    start: str
    """HH:MM the host is started."""
    stop: str
    """HH:MM the host is stopped, later the same day."""
    time_zone: str
    """IANA time zone of `start` and `stop` (the stack's `timeZone`)."""

    @property
    def day_names(self) -> Sequence[str]:
        return DAY_SETS[self.days]

    def cron(self, at: str) -> str:
        """EventBridge Scheduler's cron for `at` on the running days: minutes hours day-of-month month day-of-week year."""
        hours, mins = at.split(":")
        return f"cron({int(mins)} {int(hours)} ? * {self.days} *)"

    @property
    def start_cron(self) -> str:
        return self.cron(self.start)

    @property
    def stop_cron(self) -> str:
        return self.cron(self.stop)

    @property
    def pause_checks_cron(self) -> str:
        """When the external health check is paused: a little before the stop."""
        return self.cron(hhmm(minutes(self.stop) - PAUSE_BEFORE_STOP_MINUTES))

    @property
    def resume_checks_cron(self) -> str:
        """When the external health check resumes: once the host has warmed up after the start."""
        return self.cron(hhmm(minutes(self.start) + WARM_UP_MINUTES))

    @property
    def hours_per_week(self) -> float:
        return len(self.day_names) * (minutes(self.stop) - minutes(self.start)) / 60

    @property
    def hours_per_month(self) -> float:
        return self.hours_per_week * WEEKS_PER_MONTH

    def running_at(self, when: datetime.datetime) -> bool:
        """Whether the host is up at the aware instant `when` (any zone: converted to the schedule's)."""
        local = when.astimezone(zoneinfo.ZoneInfo(self.time_zone))
        now = local.hour * 60 + local.minute
        return DAY_NAMES[local.weekday()] in self.day_names and minutes(self.start) <= now < minutes(self.stop)

    def utc_times(self, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
        """The start and the stop of `day` in UTC (what the offset of that date makes of the local times)."""
        zone = zoneinfo.ZoneInfo(self.time_zone)

        def utc(at: str) -> datetime.datetime:
            return datetime.datetime.combine(day, datetime.time(*divmod(minutes(at), 60)), zone).astimezone(
                datetime.UTC
            )

        return utc(self.start), utc(self.stop)


def dst_trouble(at: str, time_zone: str, years: Sequence[int]) -> str | None:
    """Why the local time `at` is not a safe schedule time in `time_zone` in `years`, or None.

    A local time a DST change skips does not exist that day; one it repeats happens twice.
    """
    zone = zoneinfo.ZoneInfo(time_zone)
    clock = datetime.time(*divmod(minutes(at), 60))
    day = datetime.date(min(years), 1, 1)
    while day.year <= max(years):
        local = datetime.datetime.combine(day, clock, zone)
        round_trip = local.astimezone(datetime.UTC).astimezone(zone)
        if (round_trip.hour, round_trip.minute) != (clock.hour, clock.minute):
            return f"{at} does not exist in {time_zone} on {day.isoformat()} (a DST change skips it)"
        if local.utcoffset() != local.replace(fold=1).utcoffset():
            return f"{at} happens twice in {time_zone} on {day.isoformat()} (a DST change repeats it)"
        day += datetime.timedelta(days=1)
    return None
