"""Gregorian to Jalali (Solar Hijri) dates, the arithmetic calendar Iran uses day to day."""

from __future__ import annotations

import re
from datetime import date, datetime, time

from services.runtime.text import ascii_digits

_DAYS_BEFORE_MONTH = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)

MONTHS_FA = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)


def to_jalali(day: date) -> tuple[int, int, int]:
    """(year, month, day) in the Jalali calendar; exact for 1800-2200 and well beyond."""
    gy, gm, gd = day.year, day.month, day.day
    gy2 = gy + 1 if gm > 2 else gy
    days = (
        355666
        + 365 * gy
        + (gy2 + 3) // 4
        - (gy2 + 99) // 100
        + (gy2 + 399) // 400
        + gd
        + _DAYS_BEFORE_MONTH[gm - 1]
    )
    jy = -1595 + 33 * (days // 12053)
    days %= 12053
    jy += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        jy += (days - 1) // 365
        days = (days - 1) % 365
    if days < 186:
        return jy, 1 + days // 31, 1 + days % 31
    return jy, 7 + (days - 186) // 30, 1 + (days - 186) % 30


def _gregorian_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def to_gregorian(jy: int, jm: int, jd: int) -> date:
    """The Gregorian day of a Jalali date; ValueError when there is no such Jalali day."""
    if not 1 <= jm <= 12 or not 1 <= jd <= (31 if jm <= 6 else 30):
        raise ValueError("no such Jalali date")
    jy += 1595
    days = (
        -355668
        + 365 * jy
        + (jy // 33) * 8
        + ((jy % 33) + 3) // 4
        + jd
        + ((jm - 1) * 31 if jm < 7 else (jm - 7) * 30 + 186)
    )
    gy = 400 * (days // 146097)
    days %= 146097
    if days > 36524:
        days -= 1
        gy += 100 * (days // 36524)
        days %= 36524
        if days >= 365:
            days += 1
    gy += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        gy += (days - 1) // 365
        days = (days - 1) % 365
    day_of_year = days + 1
    lengths = (31, 29 if _gregorian_leap(gy) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    month = 0
    while day_of_year > lengths[month]:
        day_of_year -= lengths[month]
        month += 1
    result = date(gy, month + 1, day_of_year)
    if to_jalali(result) != (jy - 1595, jm, jd):  # Esfand 30 of a common year
        raise ValueError("no such Jalali date")
    return result


# A day typed in either calendar, with an optional time: `1405/09/10 08:30`, `2026-12-01T08:30`.
_TYPED = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2}))?")
# A year below this is a Jalali one: Jalali years are about 621 behind Gregorian ones.
JALALI_BEFORE = 1700


def _typed(text: str) -> tuple[date, time | None]:
    found = _TYPED.fullmatch(ascii_digits(text.strip()))
    if not found:
        raise ValueError(text)
    year, month, day = (int(part) for part in found.groups()[:3])
    typed_time = time(int(found[4]), int(found[5])) if found[4] else None
    if year < JALALI_BEFORE:
        if not (1 <= month <= 12 and 1 <= day <= 31):
            raise ValueError(text)
        typed_day = to_gregorian(year, month, day)
        if to_jalali(typed_day) != (year, month, day):
            raise ValueError(text)  # 1405/12/31 in a year whose Esfand has 29 days
        return typed_day, typed_time
    return date(year, month, day), typed_time


def typed_date(text: str) -> date:
    """The day a person typed in either calendar (`1370/01/31` or `1991-04-20`, any digits).
    ValueError when it is not a day."""
    day, typed_time = _typed(text)
    if typed_time is not None:
        raise ValueError(text)
    return day


def typed_moment(text: str) -> datetime:
    """A day and optional time (midnight if none) as typed in either calendar, any digits,
    without a zone. ValueError when it is no such day or time."""
    day, typed_time = _typed(text)
    return datetime.combine(day, typed_time or time(0, 0))
