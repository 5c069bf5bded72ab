import datetime as dt

import pytest

from wuye.dunning.calendar import Calendar, UncoveredDate, Window
from wuye.dunning.choices import DayKind, WindowDays

pytestmark = pytest.mark.once  # no database: scripts/test.sh runs it in one pass only

D = dt.date


@pytest.fixture
def cal():
    return Calendar(entered=[])


def test_2026_national_day_is_a_holiday_and_the_make_up_saturday_a_working_day(cal):
    assert cal.kind(D(2026, 10, 1)) == DayKind.HOLIDAY
    assert cal.kind(D(2026, 10, 10)) == DayKind.WORKDAY  # Saturday, 调休上班
    assert cal.kind(D(2026, 10, 17)) == DayKind.REST  # an ordinary Saturday
    assert cal.kind(D(2026, 2, 14)) == DayKind.WORKDAY  # Spring Festival make-up Saturday


def test_a_deadline_on_a_holiday_moves_to_the_next_working_day(cal):
    # 2026-09-24 + 7 days = 1 October, inside the National Day break (1–7 October): moves to 8 October
    assert cal.deadline(D(2026, 9, 24), 7) == D(2026, 10, 8)
    assert cal.deadline(D(2026, 11, 2), 7) == D(2026, 11, 9)  # a Monday stays


def test_no_source_for_2027_means_no_date_at_all(cal):
    assert not cal.covers(D(2027, 3, 1))
    with pytest.raises(UncoveredDate):
        cal.kind(D(2027, 3, 1))
    with pytest.raises(UncoveredDate):
        cal.deadline(D(2026, 12, 28), 7)


def test_entered_days_cover_only_themselves_until_the_year_is_confirmed():
    entered = [(D(2027, 1, 1), DayKind.HOLIDAY), (D(2027, 2, 20), DayKind.WORKDAY)]
    cal = Calendar(entered=entered)
    assert cal.covers(D(2027, 1, 1)) and not cal.covers(D(2027, 6, 1))
    assert cal.kind(D(2027, 2, 20)) == DayKind.WORKDAY
    with pytest.raises(UncoveredDate):
        cal.kind(D(2027, 3, 3))
    cal = Calendar(entered=entered, confirmed_years=[2027])
    assert cal.covers(D(2027, 6, 1))
    assert cal.kind(D(2027, 1, 1)) == DayKind.HOLIDAY
    assert cal.kind(D(2027, 2, 20)) == DayKind.WORKDAY  # a Saturday entered as 调休上班
    assert cal.kind(D(2027, 2, 21)) == DayKind.REST
    assert cal.kind(D(2027, 3, 3)) == DayKind.WORKDAY


def test_windows_are_clipped_to_the_hard_bounds(cal):
    w = Window.parse(WindowDays.ALL_BUT_HOLIDAYS, "06:00-23:30")
    assert w.ranges == ((dt.time(8), dt.time(21)),)
    assert not w.contains(cal, dt.datetime(2026, 11, 23, 21, 30))
    assert not w.contains(cal, dt.datetime(2026, 11, 23, 7, 59))
    with pytest.raises(ValueError):
        Window.parse(WindowDays.WORKDAYS, "22:00-23:00")


def test_calls_wait_for_the_next_window_across_the_holiday(cal):
    calls = Window.parse(WindowDays.WORKDAYS, "09:00-11:00,15:00-17:00")
    # 30 September 17:30: the next opening is 8 October 09:00 (1–7 October is the holiday)
    assert calls.next_opening(cal, dt.datetime(2026, 9, 30, 17, 30)) == dt.datetime(2026, 10, 8, 9, 0)
    assert calls.next_opening(cal, dt.datetime(2026, 11, 23, 12, 0)) == dt.datetime(2026, 11, 23, 15, 0)
    assert calls.contains(cal, dt.datetime(2026, 10, 10, 9, 30))  # make-up Saturday
    assert not calls.contains(cal, dt.datetime(2026, 10, 17, 9, 30))
    messages = Window.parse(WindowDays.WORKDAYS_SATURDAY, "09:00-20:00")
    assert messages.contains(cal, dt.datetime(2026, 10, 17, 9, 30))  # an ordinary Saturday is fine for SMS
    assert not messages.contains(cal, dt.datetime(2026, 10, 18, 9, 30))  # Sunday
    assert not messages.contains(cal, dt.datetime(2026, 10, 3, 10, 0))  # Saturday inside the holiday
