"""Working days, holidays and contact windows — the one place that knows the official calendar.

Sources, in order: days an administrator entered (``CalendarDay``, for a year the package does not cover
yet, or to correct it), then the ``chinesecalendar`` package (2004–2026, with make-up working days), then
the years an administrator confirmed as completely entered (``CalendarYear``, "该年安排已完整录入"): in
such a year a day that was not entered is an ordinary weekday or weekend day.

Coverage is per day. A date that no source covers is *unknown* and closed: nothing is ever scheduled or sent
on it (``UncoveredDate``), and the pages and the daily run show an alert naming the first such date
(``Calendar.first_uncovered``, ``Calendar.coverage_alert``). Entering a few days of a year covers those days
only; the rest of that year stays unknown until the year is confirmed.

Every contact lies inside the hard bounds 08:00–21:00 local time, whatever a window says.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import chinese_calendar

from wuye.dunning.choices import DayKind, WindowDays, WindowGroup

HARD_START = dt.time(8, 0)
HARD_END = dt.time(21, 0)

DEFAULT_WINDOWS: dict[str, tuple[str, str]] = {
    WindowGroup.PERSON: (WindowDays.WORKDAYS, "09:00-11:00,15:00-17:00"),
    WindowGroup.MESSAGE: (WindowDays.WORKDAYS_SATURDAY, "09:00-20:00"),
}


class UncoveredDate(Exception):
    """No official schedule covers this date."""

    def __init__(self, day: dt.date):
        super().__init__(f"{day.isoformat()} 不在已录入的节假日安排之内（{day.year} 年的安排尚未完整录入），"
                         "当天不安排任何联系。")
        self.day = day


def _package_years() -> range:
    years = [d.year for d in chinese_calendar.constants.holidays]
    return range(min(years), max(years) + 1)


PACKAGE_YEARS = _package_years()


class Calendar:
    """The official calendar with administrator-entered days and confirmed years loaded once (build one per
    run or batch)."""

    def __init__(self, entered: Iterable[tuple[dt.date, str]] | None = None,
                 confirmed_years: Iterable[int] | None = None):
        """Without arguments both are read from the database; given ``entered`` alone, no year is confirmed."""
        if entered is None:
            from wuye.dunning.models import CalendarDay, CalendarYear

            entered = CalendarDay.objects.values_list("date", "kind")
            if confirmed_years is None:
                confirmed_years = CalendarYear.objects.values_list("year", flat=True)
        self.entered: dict[dt.date, str] = dict(entered)
        self.confirmed_years = frozenset(confirmed_years or ())
        self._package: dict[dt.date, str] = {}  # the package's answers, memoised (it scans its tables per call)

    def year_covered(self, year: int) -> bool:
        """Is every day of ``year`` known (the package's years and the confirmed ones)?"""
        return year in PACKAGE_YEARS or year in self.confirmed_years

    def covers(self, day: dt.date) -> bool:
        """Does a source say what ``day`` is? (An entered day, a package year or a confirmed year.)"""
        return day in self.entered or self.year_covered(day.year)

    def first_uncovered(self, start: dt.date, days: int) -> dt.date | None:
        """The first day from ``start`` to ``start + days`` (both included) that no source covers, or None."""
        day, last = start, start + dt.timedelta(days=days)
        while day <= last:
            if self.year_covered(day.year):
                day = dt.date(day.year + 1, 1, 1)  # the whole year is known: jump to the next one
                continue
            if day not in self.entered:
                return day
            day += dt.timedelta(days=1)
        return None

    def covered_until(self, today: dt.date) -> dt.date | None:
        """The last day of the unbroken run of covered days starting at ``today`` (None if today isn't)."""
        if not self.covers(today):
            return None
        day = today
        while True:
            if self.year_covered(day.year):
                day = dt.date(day.year + 1, 1, 1)
            elif day in self.entered:
                day += dt.timedelta(days=1)
            else:
                return day - dt.timedelta(days=1)

    def coverage_alert(self, today: dt.date, days: int = 45) -> str:
        """The alert for pages and the daily run: empty while every day from ``today`` to ``today + days``
        is covered, else the first uncovered date and what to do about it (at most 300 characters)."""
        first = self.first_uncovered(today, days)
        if first is None:
            return ""
        entered = any(d.year == first.year for d in self.entered)
        what = (f"{first.year} 年的安排只录入了一部分，尚未确认“该年安排已完整录入”" if entered
                else f"{first.year} 年的法定节假日安排尚未录入")
        return (f"节假日安排只覆盖到 {first - dt.timedelta(days=1):%Y-%m-%d}：{what}，自 {first:%Y-%m-%d} 起"
                "没有安排的日期不会安排任何联系。请在“节假日安排”录入国务院公布的全年安排并确认已完整录入。")

    def kind(self, day: dt.date) -> str:
        """工作日 / 休息日 / 法定节假日; raises ``UncoveredDate`` when no source covers ``day``."""
        if day in self.entered:
            return self.entered[day]
        if day.year in PACKAGE_YEARS:
            kind = self._package.get(day)
            if kind is None:
                on_holiday, name = chinese_calendar.get_holiday_detail(day)
                kind = (DayKind.HOLIDAY if name else DayKind.REST) if on_holiday else DayKind.WORKDAY
                self._package[day] = kind
            return kind
        if day.year in self.confirmed_years:
            return DayKind.WORKDAY if day.weekday() < 5 else DayKind.REST
        raise UncoveredDate(day)

    def is_working_day(self, day: dt.date) -> bool:
        return self.kind(day) == DayKind.WORKDAY

    def next_working_day(self, day: dt.date) -> dt.date:
        """``day`` itself when it is a working day, else the first working day after it."""
        while not self.is_working_day(day):
            day += dt.timedelta(days=1)
        return day

    def deadline(self, start: dt.date, days: int) -> dt.date:
        """A deadline ``days`` after ``start``; one that ends on a rest day or holiday moves to the next
        working day (民法典 203)."""
        return self.next_working_day(start + dt.timedelta(days=days))

    def day_allowed(self, day: dt.date, days_rule: str) -> bool:
        kind = self.kind(day)
        if kind == DayKind.HOLIDAY:
            return False
        if days_rule == WindowDays.WORKDAYS:
            return kind == DayKind.WORKDAY
        if days_rule == WindowDays.WORKDAYS_SATURDAY:
            return kind == DayKind.WORKDAY or day.weekday() == 5
        return True


@dataclass(frozen=True)
class Window:
    """A contact window: which days, and which time ranges, clipped to the hard bounds."""

    days: str
    ranges: tuple[tuple[dt.time, dt.time], ...]

    @classmethod
    def parse(cls, days: str, text: str) -> Window:
        ranges = []
        for part in text.replace("，", ",").split(","):
            part = part.strip()
            if not part:
                continue
            try:
                a, b = (dt.time.fromisoformat(x.strip().zfill(5)) for x in part.split("-"))
            except ValueError as exc:
                raise ValueError(f"时段“{part}”格式应为 09:00-11:00") from exc
            a, b = max(a, HARD_START), min(b, HARD_END)
            if a >= b:
                raise ValueError(f"时段“{part}”不在 08:00–21:00 之内")
            ranges.append((a, b))
        if not ranges:
            raise ValueError("至少填写一个时段")
        return cls(days, tuple(sorted(ranges)))

    def contains(self, cal: Calendar, local: dt.datetime) -> bool:
        """Is ``local`` (naive local time) inside this window? Raises ``UncoveredDate`` on an unknown day."""
        if not self.day_ok(cal, local.date()):
            return False
        t = local.time()
        return any(a <= t < b for a, b in self.ranges)

    def day_ok(self, cal: Calendar, day: dt.date) -> bool:
        return cal.day_allowed(day, self.days)

    def next_opening(self, cal: Calendar, local: dt.datetime, *, horizon_days: int = 40) -> dt.datetime:
        """The first moment at or after ``local`` (naive local) inside the window; raises
        ``UncoveredDate`` when the search reaches a day no source covers."""
        day = local.date()
        for _ in range(horizon_days):
            if self.day_ok(cal, day):
                for a, b in self.ranges:
                    start = dt.datetime.combine(day, a)
                    end = dt.datetime.combine(day, b)
                    if local < end:
                        return max(start, local)
            day += dt.timedelta(days=1)
            local = dt.datetime.combine(day, dt.time.min)
        raise UncoveredDate(day)  # pragma: no cover - a window open on no day at all


def windows_for(project_id: int) -> dict[str, Window]:
    """The contact windows of a project: its own rows, else the defaults."""
    from wuye.dunning.models import ContactWindow

    out = {group: Window.parse(days, text) for group, (days, text) in DEFAULT_WINDOWS.items()}
    for row in ContactWindow.objects.filter(project_id=project_id):
        out[row.group] = Window.parse(row.days, row.ranges)
    return out


def local_now(now: dt.datetime, tz: str = "Asia/Shanghai") -> dt.datetime:
    """An aware datetime as naive local time of the project."""
    return now.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def to_aware(local: dt.datetime, tz: str = "Asia/Shanghai") -> dt.datetime:
    return local.replace(tzinfo=ZoneInfo(tz))


def within_hard_bounds(local: dt.datetime) -> bool:
    return HARD_START <= local.time() < HARD_END
