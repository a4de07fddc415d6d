"""The period calendar: the one place that says what a week, a month and a quarter are.

Periods are calendar periods in the tenant's time zone: ISO weeks (Monday–Sunday), months and
quarters; ``end`` is inclusive. KPI computation, the dashboards' period selector, exports and the
API all call these functions.

A period is *closed* once its last day is over in the tenant's time zone (``is_closed``); the
period containing today is *current* and may be judged by pacing (``elapsed_days``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WEEK, MONTH, QUARTER = "week", "month", "quarter"
KINDS = (WEEK, MONTH, QUARTER)


def _add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after the month of ``day``."""
    total = day.year * 12 + day.month - 1 + months
    return dt.date(total // 12, total % 12 + 1, 1)


def period_start(kind: str, day: dt.date) -> dt.date:
    """The first day of the ``kind`` period containing ``day``."""
    if kind == WEEK:
        return day - dt.timedelta(days=day.weekday())
    if kind == MONTH:
        return day.replace(day=1)
    if kind == QUARTER:
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    raise ValueError(f"Unknown period {kind!r}")


def period_after(kind: str, start: dt.date) -> dt.date:
    """The first day of the next period."""
    if kind == WEEK:
        return start + dt.timedelta(days=7)
    return _add_months(start, 1 if kind == MONTH else 3)


def period_before(kind: str, start: dt.date) -> dt.date:
    """The first day of the previous period."""
    if kind == WEEK:
        return start - dt.timedelta(days=7)
    return _add_months(start, -1 if kind == MONTH else -3)


def period_bounds(kind: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """``(start, end_inclusive)`` of the ``kind`` period containing ``day``."""
    start = period_start(kind, day)
    return start, period_after(kind, start) - dt.timedelta(days=1)


def previous_bounds(kind: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """``(start, end_inclusive)`` of the period before the one containing ``day``."""
    return period_bounds(kind, period_start(kind, day) - dt.timedelta(days=1))


def recent_periods(kind: str, today: dt.date, back: int) -> list[tuple[dt.date, dt.date]]:
    """``[(start, end_inclusive)]``, oldest first: the period containing ``today`` and ``back`` before."""
    starts = [period_start(kind, today)]
    for _ in range(back):
        starts.append(period_before(kind, starts[-1]))
    return [(s, period_after(kind, s) - dt.timedelta(days=1)) for s in reversed(starts)]


def is_closed(end: dt.date, today: dt.date) -> bool:
    """A period is closed once its last day is over (``today`` is the tenant-local date)."""
    return end < today


def elapsed_days(start: dt.date, end: dt.date, today: dt.date) -> int:
    """Days of ``[start, end]`` up to and including ``today`` (0 before it starts, all when closed)."""
    if today < start:
        return 0
    return (min(today, end) - start).days + 1


@dataclass(frozen=True)
class Span:
    """A period as dates (end inclusive) and as UTC-comparable instants (end exclusive)."""

    start: dt.date
    end: dt.date  # inclusive
    start_utc: dt.datetime
    end_utc: dt.datetime  # exclusive

    @classmethod
    def of(cls, start: dt.date, end: dt.date, zone) -> Span:
        return cls(start, end, day_start(start, zone), day_start(end + dt.timedelta(days=1), zone))


def day_start(day: dt.date, zone) -> dt.datetime:
    """The instant a tenant-local day begins."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


def end_of_day(day: dt.date, zone) -> dt.datetime:
    """The instant a tenant-local day is over (exclusive bound): "by its due date" means before this."""
    return day_start(day + dt.timedelta(days=1), zone)
