"""Calendar coverage is per day (issue 13, item 9): a year with a few entered days is not covered; a day no
source covers is closed (nothing is scheduled or sent on it) and the alerts name the first such date; a year an
administrator confirmed as completely entered is covered."""

from __future__ import annotations

import datetime as dt
import json
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from wuye.accounts.models import AuditEvent
from wuye.dunning import services
from wuye.dunning.calendar import Calendar, UncoveredDate, Window
from wuye.dunning.choices import ActionStatus, DayKind, WindowDays
from wuye.dunning.dispatch import dispatch
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, CalendarDay, CalendarYear

D = dt.date
SH = ZoneInfo("Asia/Shanghai")
NEW_YEAR_ONLY = "2027-01-01~2027-01-03 假 元旦\n"
# a made-up but complete-looking schedule for 2027 (test data, not the State Council's notice)
FULL_2027 = NEW_YEAR_ONLY + """2027-02-05~2027-02-12 假 春节
2027-02-14 班 春节调休上班
2027-04-03~2027-04-05 假 清明节
2027-05-01~2027-05-05 假 劳动节
2027-06-09~2027-06-11 假 端午节
2027-09-15~2027-09-17 假 中秋节
2027-10-01~2027-10-07 假 国庆节
2027-10-09 班 国庆调休上班
"""


def at(y, m, d, hh, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


def test_a_partly_entered_year_is_covered_only_on_its_entered_days():
    cal = Calendar(entered=[(D(2027, 1, d), DayKind.HOLIDAY) for d in (1, 2, 3)])
    assert cal.covers(D(2027, 1, 3)) and not cal.covers(D(2027, 1, 4)) and not cal.covers(D(2027, 2, 17))
    with pytest.raises(UncoveredDate) as exc:
        cal.kind(D(2027, 2, 17))
    assert "2027-02-17" in str(exc.value)
    assert cal.first_uncovered(D(2026, 12, 20), 60) == D(2027, 1, 4)
    assert cal.first_uncovered(D(2026, 12, 1), 30) is None
    assert cal.covered_until(D(2026, 12, 20)) == D(2027, 1, 3)  # not 2027-12-31
    assert cal.covered_until(D(2027, 2, 17)) is None
    alert = cal.coverage_alert(D(2026, 12, 20))
    assert "2027-01-04" in alert and "2027-12-31" not in alert and len(alert) <= 300
    # contact windows: closed on the uncovered day, and the search for an opening stops there
    sms = Window.parse(WindowDays.WORKDAYS_SATURDAY, "09:00-20:00")
    with pytest.raises(UncoveredDate):
        sms.contains(cal, dt.datetime(2027, 2, 17, 10, 0))
    with pytest.raises(UncoveredDate) as exc:
        sms.next_opening(cal, dt.datetime(2027, 1, 3, 10, 0))
    assert exc.value.day == D(2027, 1, 4)


def test_a_confirmed_year_is_covered_and_its_days_not_entered_are_ordinary():
    cal = Calendar(entered=[(D(2027, 1, 1), DayKind.HOLIDAY), (D(2027, 2, 14), DayKind.WORKDAY)],
                   confirmed_years=[2027])
    assert cal.first_uncovered(D(2026, 12, 20), 300) is None
    assert cal.covered_until(D(2026, 12, 20)) == D(2027, 12, 31)
    assert cal.kind(D(2027, 2, 17)) == DayKind.WORKDAY  # a Wednesday
    assert cal.kind(D(2027, 2, 14)) == DayKind.WORKDAY  # a Sunday entered as 调休上班
    assert cal.kind(D(2027, 2, 20)) == DayKind.REST
    assert cal.first_uncovered(D(2027, 12, 1), 60) == D(2028, 1, 1)
    assert cal.coverage_alert(D(2026, 12, 20)) == ""


def test_the_run_and_the_dispatcher_do_nothing_on_a_day_never_entered(arrears_estate, alice, settings, tmp_path):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    services.calendar_days_enter(actor=alice, days=services.parse_schedule(NEW_YEAR_ONLY))
    for day in (D(2027, 2, 8), D(2027, 2, 17)):  # a Spring Festival day and the reviewer's date
        preview = dunning_run(as_of=day, dry_run=True)
        person = [d for o in preview.outcomes for d in o.decisions if not d.superseded
                  and d.step.channel in ("call", "visit")]
        assert person == [], day  # calls and visits wait for a known working day
    dunning_run(as_of=D(2027, 2, 17))
    pending = Action.objects.filter(channel="sms", status=ActionStatus.PENDING).count()
    assert pending > 0
    result = dispatch(now=at(2027, 2, 17, 10, 0))
    assert result.sent == 0
    assert not Action.objects.filter(sent_at__isnull=False).exists()
    assert any("2027-02-17" in a for a in result.alerts)
    assert not (tmp_path / "outbox" / "sms.jsonl").exists()


def test_once_the_year_is_confirmed_the_dispatcher_sends(arrears_estate, alice, settings, tmp_path):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    services.calendar_days_enter(actor=alice, days=services.parse_schedule(FULL_2027), complete=True)
    assert CalendarYear.objects.filter(year=2027).exists()
    dunning_run(as_of=D(2027, 2, 17))
    result = dispatch(now=at(2027, 2, 17, 10, 0))
    assert result.sent > 0 and result.alerts == []
    lines = (tmp_path / "outbox" / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines and "2027" in json.loads(lines[0])["body"]


def test_confirming_a_year_needs_the_whole_schedule_and_can_be_withdrawn(db, alice, bob):
    services.calendar_days_enter(actor=alice, days=services.parse_schedule(NEW_YEAR_ONLY))
    with pytest.raises(ValidationError) as exc:
        services.calendar_year_confirm(actor=alice, year=2027)
    assert "只录入了 3 天法定节假日" in str(exc.value)
    with pytest.raises(ValidationError):
        services.calendar_year_confirm(actor=alice, year=2026)  # the package covers it
    # entering with "complete" is all or nothing: a refused confirmation enters no day either
    with pytest.raises(ValidationError):
        services.calendar_days_enter(actor=alice, days=services.parse_schedule("2027-02-05~2027-02-07 假 春节"),
                                     complete=True)
    assert not CalendarDay.objects.filter(date=D(2027, 2, 5)).exists()
    services.calendar_days_enter(actor=alice, days=services.parse_schedule(FULL_2027))
    with pytest.raises(ValidationError):
        services.calendar_year_confirm(actor=bob, year=2027)  # a collector may not
    services.calendar_year_confirm(actor=alice, year=2027, note="国务院办公厅通知")
    assert Calendar().covers(D(2027, 8, 2))
    assert services.calendar_year_withdraw(actor=alice, year=2027)
    assert not Calendar().covers(D(2027, 8, 2))
    verbs = list(AuditEvent.objects.filter(verb="dunning.calendar_year").order_by("pk").values_list("after", flat=True))
    assert [v["confirmed"] for v in verbs] == [True, False]


def _text(response) -> str:
    """A page's words (dates sit in their own nowrap spans)."""
    from django.utils.html import strip_tags

    return strip_tags(response.content.decode())


def test_the_calendar_page_names_the_first_uncovered_date_and_confirms_a_year(client, alice):
    client.force_login(alice)
    with mock.patch("django.utils.timezone.localdate", return_value=D(2026, 12, 20)):
        r = client.post("/collection/calendar/", {"schedule": NEW_YEAR_ONLY})
        assert r.status_code == 302
        page = _text(client.get("/collection/calendar/"))
        assert "2027-01-04" in page and "当前可安排联系至 2027-01-03" in page
        assert "2027-12-31" not in page
        assert "未确认" in page
        overview = _text(client.get("/collection/"))
        assert "2027-01-04" in overview  # the alert on every collection page
        r = client.post("/collection/calendar/", {"action": "confirm", "year": "2027"}, follow=True)
        assert "只录入了 3 天法定节假日" in _text(r)
        r = client.post("/collection/calendar/", {"action": "enter", "schedule": FULL_2027, "complete": "on"})
        assert r.status_code == 302
        page = _text(client.get("/collection/calendar/"))
        assert "当前可安排联系至 2027-12-31" in page and "已确认" in page
        assert "节假日安排只覆盖到" not in page
        r = client.post("/collection/calendar/", {"action": "withdraw", "year": "2027"})
        assert r.status_code == 302 and not CalendarYear.objects.exists()
        assert "2027-01-04" in _text(client.get("/collection/calendar/"))


def test_the_daily_run_alert_names_the_first_uncovered_date(arrears_estate, alice):
    from wuye.dunning.models import Run
    from wuye.dunning.services import calendar_days_enter

    result = dunning_run(as_of=dt.date(2026, 12, 20))
    assert "2027-01-01" in result.alert and "2026-12-31" in result.alert
    calendar_days_enter(actor=alice, days=[(dt.date(2027, 1, 1), "holiday", "元旦"),
                                           (dt.date(2027, 1, 2), "holiday", "元旦"),
                                           (dt.date(2027, 1, 3), "holiday", "元旦")])
    again = dunning_run(as_of=dt.date(2026, 12, 21))
    assert "2027-01-04" in again.alert and "只录入了一部分" in again.alert
    assert Run.objects.filter(run_date=dt.date(2026, 12, 21)).get().alert == again.alert
