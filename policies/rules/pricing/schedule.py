"""Instance hours under a stop/start schedule, and the schedules' own price.

EventBridge Scheduler schedules whose target is EC2 StopInstances or StartInstances
(universal targets `arn:aws:scheduler:::aws-sdk:ec2:stopInstances` / `startInstances`)
decide how many hours the stack's instances run: their `cron(...)` expressions are laid
out over one week (wall-clock times: the week a DST change falls in is an hour longer
or shorter, which is not priced), and the host is up from each start to the next stop.
A stack with no such pair runs all month. The program has one host, so a pair applies
to every instance of the stack. Pure Python, as the rest of the pricing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

SCHEDULE = "aws:scheduler/schedule:Schedule"
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # AWS cron's day-of-week 1-7 starts on Sunday
WEEK_MINUTES = 7 * 24 * 60
_CRON = re.compile(r"\Acron\(\s*(\d{1,2})\s+(\d{1,2})\s+\?\s+\*\s+(\S+)\s+\*\s*\)\Z")


def _day(token: str) -> int:
    """0 (Sunday) to 6 of a day name or an AWS cron number (1 = Sunday)."""
    token = token.upper()
    return DAYS.index(token) if token in DAYS else int(token) - 1


def cron_days(field: str) -> list[int]:
    """The days of week (0 = Sunday) an AWS cron day-of-week field names: `*`, names or numbers, ranges, lists."""
    if field in ("*", "?"):
        return list(range(7))
    days: set[int] = set()
    for part in field.split(","):
        first, _, last = part.partition("-")
        start, end = _day(first), _day(last or first)
        days.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)])
    return sorted(days)


def week_minutes(expression: str) -> list[int] | None:
    """The minutes of the week (from Sunday 00:00) a `cron(M H ? * DAYS *)` runs at; None for any other form."""
    match = _CRON.fullmatch(expression.strip())
    if not match:
        return None
    minute, hour, field = int(match.group(1)), int(match.group(2)), match.group(3)
    try:
        days = cron_days(field)
    except ValueError:
        return None
    return [day * 24 * 60 + hour * 60 + minute for day in days]


def up_minutes_per_week(starts: list[int], stops: list[int]) -> int:
    """Minutes a week the host is up: from each start to the next stop, around the week."""
    events = sorted([(m, "start") for m in starts] + [(m, "stop") for m in stops])
    up, state = 0, events[-1][1]  # the last event of the week holds until the first one
    previous = events[-1][0] - WEEK_MINUTES
    for minute, kind in events:
        if state == "start":
            up += minute - previous
        previous, state = minute, kind
    return up


def _ec2_action(props: Mapping[str, Any]) -> str | None:
    target = (props.get("target") or {}).get("arn")
    if not isinstance(target, str) or ":aws-sdk:ec2:" not in target:
        return None
    return target.rsplit(":", 1)[-1].lower()


def running_hours(
    schedules: Iterable[tuple[str, Mapping[str, Any]]], hours_per_month: float
) -> tuple[float, str] | None:
    """Hours a month the instances run under the stop/start `schedules` ((name, props) of each), with why;
    None: all month."""
    runs: dict[str, list[int]] = {"startinstances": [], "stopinstances": []}
    names: list[str] = []
    for name, props in schedules:
        action = _ec2_action(props)
        minutes = week_minutes(str(props.get("scheduleExpression") or ""))
        if action in runs and minutes is not None and props.get("state", "ENABLED") == "ENABLED":
            runs[action] += minutes
            names.append(name)
    if not runs["startinstances"] or not runs["stopinstances"]:
        return None
    weekly = up_minutes_per_week(runs["startinstances"], runs["stopinstances"]) / 60
    hours = weekly * hours_per_month / (7 * 24)
    return hours, f"up {weekly:g} h a week by schedules {', '.join(sorted(names))} ({hours:.0f} h a month)"


def runs_per_month(expression: str, hours_per_month: float) -> tuple[float, str]:
    """How often a schedule runs a month, with why (an expression not read: hourly, an upper bound)."""
    minutes = week_minutes(expression)
    if minutes is None:
        return hours_per_month, "expression not read: hourly runs assumed"
    runs = len(minutes) * hours_per_month / (7 * 24)
    return runs, f"{runs:.0f} runs a month"
