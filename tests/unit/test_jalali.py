from datetime import date, datetime, timedelta

import pytest

from services.runtime.jalali import to_gregorian, to_jalali, typed_date, typed_moment


@pytest.mark.parametrize(
    ("gregorian", "jalali"),
    [
        (date(2024, 3, 20), (1403, 1, 1)),  # Nowruz
        (date(2023, 3, 21), (1402, 1, 1)),
        (date(2025, 3, 20), (1403, 12, 30)),  # last day of a leap year
        (date(2025, 3, 21), (1404, 1, 1)),
        (date(1979, 2, 11), (1357, 11, 22)),
        (date(2000, 1, 1), (1378, 10, 11)),
        (date(2026, 11, 22), (1405, 9, 1)),
    ],
)
def test_known_dates(gregorian: date, jalali: tuple[int, int, int]) -> None:
    assert to_jalali(gregorian) == jalali


def test_consecutive_days_step_by_one_through_every_month_end() -> None:
    day, previous = date(1990, 1, 1), to_jalali(date(1989, 12, 31))
    while day < date(2060, 1, 1):
        current = to_jalali(day)
        if current[:2] == previous[:2]:
            assert current[2] == previous[2] + 1
        else:
            assert current[2] == 1
            assert previous[2] in (29, 30, 31)
            assert previous[2] == 31 if previous[1] <= 6 else previous[2] <= 30
        previous, day = current, day + timedelta(days=1)


def test_back_to_gregorian_for_every_day_of_seventy_years() -> None:
    day = date(1990, 1, 1)
    while day < date(2060, 1, 1):
        assert to_gregorian(*to_jalali(day)) == day
        day += timedelta(days=1)


@pytest.mark.parametrize("jalali", [(1404, 12, 30), (1403, 13, 1), (1403, 7, 31), (1403, 0, 5)])
def test_days_that_do_not_exist_are_refused(jalali: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        to_gregorian(*jalali)


def test_a_typed_day_is_read_in_either_calendar_and_any_digits() -> None:
    assert typed_date("۱۳۷۰/۰۱/۳۱") == date(1991, 4, 20)
    assert typed_date("1991-4-20") == date(1991, 4, 20)
    for text in ("1991-02-30", "1402/12/30", "20 April 1991"):
        with pytest.raises(ValueError):
            typed_date(text)


@pytest.mark.parametrize(
    ("typed", "moment"),
    [
        ("1405/09/10 08:30", datetime(2026, 12, 1, 8, 30)),
        ("1405-9-10", datetime(2026, 12, 1)),
        ("2026-12-01T08:30", datetime(2026, 12, 1, 8, 30)),
        ("2026/12/01 21:05", datetime(2026, 12, 1, 21, 5)),
    ],
)
def test_a_moment_is_typed_in_either_calendar(typed: str, moment: datetime) -> None:
    assert typed_moment(typed) == moment


@pytest.mark.parametrize(
    "typed", ["1404/12/30", "1405/13/01", "2026-02-30", "tomorrow", "1405/09/10 25:00"]
)
def test_a_moment_that_is_no_day_is_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        typed_moment(typed)
