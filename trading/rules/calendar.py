"""The working-day calendar (工作日): weekends, public holidays and adjusted working days (调休).

Chinese public holidays move every year and are published by the State Council's General Office
(国务院办公厅关于…部分节假日安排的通知), usually in November for the next year. They are data here,
one table per year. A year without a table falls back to Monday-Friday and says so through
:func:`covers`, so a caller can warn that the count is provisional; add the year's table as soon as
the notice is out.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "CST")
"""China Standard Time. China has no daylight saving time, so a fixed offset is exact."""


def _days(first: str, last: str | None = None) -> frozenset[date]:
    start = date.fromisoformat(first)
    end = date.fromisoformat(last) if last else start
    return frozenset(start + timedelta(days=i) for i in range((end - start).days + 1))


# 2025 arrangements (国务院办公厅 notice of November 2024).
_HOLIDAYS_2025 = (
    _days("2025-01-01")  # 元旦
    | _days("2025-01-28", "2025-02-04")  # 春节
    | _days("2025-04-04", "2025-04-06")  # 清明节
    | _days("2025-05-01", "2025-05-05")  # 劳动节
    | _days("2025-05-31", "2025-06-02")  # 端午节
    | _days("2025-10-01", "2025-10-08")  # 国庆节、中秋节
)
_WORKDAYS_2025 = _days("2025-01-26") | _days("2025-02-08") | _days("2025-04-27")
_WORKDAYS_2025 |= _days("2025-09-28") | _days("2025-10-11")

# 2026 arrangements (国务院办公厅 notice of November 2025).
_HOLIDAYS_2026 = (
    _days("2026-01-01", "2026-01-03")  # 元旦
    | _days("2026-02-15", "2026-02-23")  # 春节
    | _days("2026-04-04", "2026-04-06")  # 清明节
    | _days("2026-05-01", "2026-05-05")  # 劳动节
    | _days("2026-06-19", "2026-06-21")  # 端午节
    | _days("2026-09-25", "2026-09-27")  # 中秋节
    | _days("2026-10-01", "2026-10-07")  # 国庆节
)
_WORKDAYS_2026 = _days("2026-01-04") | _days("2026-02-14") | _days("2026-02-28")
_WORKDAYS_2026 |= _days("2026-05-09") | _days("2026-09-20") | _days("2026-10-10")

HOLIDAYS: dict[int, frozenset[date]] = {2025: _HOLIDAYS_2025, 2026: _HOLIDAYS_2026}
"""Days off that would otherwise be working days (and weekend days inside a holiday)."""

ADJUSTED_WORKING_DAYS: dict[int, frozenset[date]] = {2025: _WORKDAYS_2025, 2026: _WORKDAYS_2026}
"""Weekend days that are working days (调休上班)."""


def covers(year: int) -> bool:
    """True if the holidays of ``year`` are known (otherwise Monday-Friday is assumed)."""
    return year in HOLIDAYS


def is_working_day(day: date) -> bool:
    if day in ADJUSTED_WORKING_DAYS.get(day.year, frozenset()):
        return True
    if day in HOLIDAYS.get(day.year, frozenset()):
        return False
    return day.weekday() < 5


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself is not counted).

    This is how a period "within N working days of X" ends: the deadline is the N-th working day
    after X. ``days`` = 0 gives ``start`` itself.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def next_working_day(day: date) -> date:
    """``day`` itself if it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def local_date(instant: datetime) -> date:
    """The calendar date of an instant in China (periods in the statutes count Chinese days)."""
    return instant.astimezone(CHINA_TZ).date()


def end_of_local_day(day: date) -> datetime:
    """The last instant of ``day`` in China (exclusive end: midnight of the next day)."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), CHINA_TZ)


def days_between(earlier: datetime, later: datetime) -> int:
    """Whole calendar days from ``earlier``'s date to ``later``'s date, in China time.

    The statutes count periods "from the day X to the day Y" (自…之日起至…之日止) by dates.
    """
    return (local_date(later) - local_date(earlier)).days
