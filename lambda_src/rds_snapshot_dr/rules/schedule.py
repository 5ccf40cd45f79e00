"""Schedule expressions (rate, cron, at) as EventBridge Scheduler reads them: how often a schedule
fires and when it last fired.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo

_MONTHS = {name: number for number, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
)}  # fmt: skip


def _cron_set(spec: str, low: int, high: int, names: Mapping[str, int] | None = None) -> frozenset[int] | None:
    """The values of [low, high] a cron field selects; None for what this reader does not evaluate (L, W, #)."""
    if spec in ("*", "?"):
        return frozenset(range(low, high + 1))
    parts = _cron_parts(spec, low, high, names)
    if any(part is None for part in parts):
        return None
    return frozenset(v for part in parts if part is not None for v in part if low <= v <= high)


def latest_scheduled_time(
    expression: str, zone: tzinfo | None, before: datetime, horizon: timedelta
) -> datetime | None:
    """The latest time, not after `before` and not older than `horizon` before it, at which the backup schedule
    fired (in UTC, as Scheduler's <aws.scheduler.scheduled-time>); None when it cannot be known.

    EventBridge Scheduler evaluates cron() and at() in the schedule's time zone (`zone`) with the fields
    minutes, hours, day-of-month, month, day-of-week (1-7 = SUN-SAT) and year (EventBridge Scheduler User
    Guide, "Schedule types", cron-based schedules). A rate() schedule's times depend on when it was created,
    which the function is not told: None, as for a zone whose rules are unknown and for L, W and # fields.
    """
    if zone is None:
        return None
    expression = expression.strip()
    earliest = before - horizon
    if _AT.match(expression):
        at = datetime.strptime(expression[3:-1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=zone).astimezone(UTC)
        return at if earliest <= at <= before else None
    cron = _CRON.match(expression)
    if not cron:
        return None
    minutes, hours, day_of_month, month, day_of_week, year = cron.group("fields").split(" ")
    try:
        fields = (
            _cron_set(minutes, 0, 59),
            _cron_set(hours, 0, 23),
            _cron_set(day_of_month, 1, 31),
            _cron_set(month, 1, 12, _MONTHS),
            _cron_set(day_of_week, 1, 7, _WEEKDAYS),
            _cron_set(year, 1970, 2199),
        )
    except ValueError:
        return None
    if any(field is None for field in fields):
        return None
    mins, hrs, doms, months, dows, years = (sorted(f or (), reverse=True) for f in fields)
    by_day_of_month = day_of_month not in ("*", "?")
    by_day_of_week = day_of_week not in ("*", "?")
    day = before.astimezone(zone).date()
    while True:
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        if midnight + timedelta(days=1) < earliest:
            return None
        weekday = (day.weekday() + 1) % 7 + 1  # Monday is 0 to Python, 2 to cron
        if (
            day.year in years
            and day.month in months
            and (not by_day_of_month or day.day in doms)
            and (not by_day_of_week or weekday in dows)
        ):
            for hour in hrs:
                for minute in mins:
                    fired = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
                    if fired <= before:
                        return fired if fired >= earliest else None
        day -= timedelta(days=1)


_RATE = re.compile(r"^rate\((?P<n>[1-9][0-9]*) (?P<unit>minute|minutes|hour|hours|day|days)\)$")


_CRON = re.compile(r"^cron\((?P<fields>[^ ()]+( [^ ()]+){5})\)$")


_AT = re.compile(r"^at\([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\)$")


_PER_DAY = {"minute": 1440.0, "hour": 24.0, "day": 1.0}


_WEEKDAYS = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}


def _cron_parts(spec: str, low: int, high: int, names: Mapping[str, int] | None = None) -> list[range | None]:
    """Each comma-separated part of a cron field (not `*` or `?`) as the range of values it names, or None for a
    part with L, W or # (a name such as JUL or WED is a value). Raises ValueError for a part that is neither."""
    known = names or {}

    def value(text: str) -> int:
        return known.get(text.upper(), None) or int(text)

    parts: list[range | None] = []
    for part in spec.split(","):
        if any(mark in part for mark in ("L", "W", "#")) and part.upper() not in known:
            parts.append(None)
            continue
        base, _, step_text = part.partition("/")
        if base in ("*", ""):
            first, last = low, high
        elif "-" in base:
            start, end = base.split("-", 1)
            first, last = value(start), value(end)
        else:
            first = value(base)
            last = high if step_text else first
        parts.append(range(first, last + 1, int(step_text) if step_text else 1))
    return parts


def _cron_count(spec: str, low: int, high: int, names: Mapping[str, int] | None = None) -> int:
    """How many values of [low, high] a cron field selects (L, W and # select one)."""
    span = high - low + 1
    if spec in ("*", "?"):
        return span
    total = sum(1 if part is None else len(part) for part in _cron_parts(spec, low, high, names))
    return min(total, span)


def snapshots_per_day(schedule_expression: str) -> float | None:
    """Backups per day of an EventBridge Scheduler expression; None for a one-time `at()` schedule.

    A cron that runs on some days only counts the average over a week (day of week) or a 28-day
    month (day of month), so evenly spaced schedules come out exact and the rest close.
    Raises ValueError for an expression that is none of rate(), cron() or at().
    """
    expression = schedule_expression.strip()
    if _AT.match(expression):
        return None
    rate = _RATE.match(expression)
    if rate:
        return _PER_DAY[rate.group("unit").rstrip("s")] / int(rate.group("n"))
    cron = _CRON.match(expression)
    if not cron:
        raise ValueError(f"not a rate(), cron() or at() expression: {schedule_expression!r}")
    minutes, hours, day_of_month, _month, day_of_week, _year = cron.group("fields").split(" ")
    try:
        per_run_day = _cron_count(minutes, 0, 59) * _cron_count(hours, 0, 23)
        if day_of_week not in ("*", "?"):
            days = _cron_count(day_of_week, 1, 7, _WEEKDAYS) / 7
        elif day_of_month not in ("*", "?"):
            days = min(1.0, _cron_count(day_of_month, 1, 31) / 28)
        else:
            days = 1.0
    except ValueError as exc:
        raise ValueError(f"cannot read the cron fields of {schedule_expression!r}: {exc}") from exc
    return per_run_day * days
