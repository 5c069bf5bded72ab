"""A date inside a sentence written by the code — a message after a form, a late fee's calculation — never
splits at its hyphen on a phone (decision 173): ``common.formatting.keep_dates`` escapes the sentence and puts
each date in a ``text-nowrap`` span; pages print such sentences through the ``keep_dates`` filter."""

from __future__ import annotations

import re

import pytest

from wuye.common.formatting import keep_dates

NOWRAP = re.compile(r'<span class="text-nowrap">(\d{4}-\d{2}(?:-\d{2})?)</span>')


def _bare_dates(html: str) -> list[str]:
    """Dates in ``html`` not inside a nowrap span of their own."""
    return re.findall(r"(?<![\d-])\d{4}-\d{2}(?:-\d{2})?(?![\d-])", NOWRAP.sub("", html))


def test_it_keeps_each_date_whole_and_escapes_the_rest():
    out = keep_dates("按日 0.5‰ 计（2026-01-21 至 2026-12-05）；<b>张</b> 2026-07 起")
    assert NOWRAP.findall(out) == ["2026-01-21", "2026-12-05", "2026-07"]
    assert "&lt;b&gt;张&lt;/b&gt;" in out and _bare_dates(out) == []
    # numbers that only look like part of a date are left alone; markup already safe keeps its attributes
    assert keep_dates("流水号 12026-01-2145 与 2026-01-21-3") == "流水号 12026-01-2145 与 2026-01-21-3"
    from django.utils.html import format_html

    safe = keep_dates(format_html('<a href="/collection/calendar/?date={}">{}</a>', "2026-12-05", "2026-12-05"))
    assert safe == ('<a href="/collection/calendar/?date=2026-12-05"><span class="text-nowrap">2026-12-05</span>'
                    "</a>")
    assert keep_dates(None) == ""


@pytest.mark.django_db
def test_a_message_after_a_form_keeps_its_month_whole(client, alice):
    client.force_login(alice)
    page = client.post("/insights/refresh/", {"period": "2099-01", "next": "/estate/projects/"},
                       follow=True).content.decode()
    alert = page.split('role="alert">')[1].split("</div>")[0]
    assert '<span class="text-nowrap">2099-01</span> 还没有到' in alert


@pytest.mark.django_db
def test_the_desks_late_fee_calculations_keep_their_dates_whole(client, alice, arrears_estate):
    """The unit statement (the cashier's page): each late fee's calculation names its days, from … to …."""
    client.force_login(alice)
    page = client.get(f"/billing/units/{arrears_estate['units'][0].pk}/").content.decode()
    details = page.split('data-testid="late-fee-details"')[1].split("</table>")[0]
    calculations = [c for c in re.findall(r'<td class="text-secondary[^"]*">(.*?)</td>', details, re.S) if "至" in c]
    assert calculations, details
    assert all(NOWRAP.search(c) and _bare_dates(c) == [] for c in calculations), calculations


@pytest.mark.django_db
def test_task_titles_calendar_warnings_and_import_errors_keep_their_dates_whole(client, alice, arrears_estate):
    """Sentences the code writes with dates in them, beyond decision 173's: a task's title and note (the task
    list), the calendar's warning on every collection page, an import's errors and
    warnings — each date in a nowrap span, nothing left bare."""
    import datetime as dt

    from wuye.dunning.models import Task
    from wuye.estate.models import ImportJob

    unit = arrears_estate["units"][0]
    Task.objects.create(project=unit.project, unit=unit, kind="call", assignee_role="manager",
                        title=f"{unit.code} 承诺 2026-12-05 到期未缴", detail="业主承诺 2026-12-05 前缴清 2026-10 账期",
                        due_on=dt.date(2026, 12, 6))
    job = ImportJob.objects.create(filename="楼盘.csv", status="failed", created_by=alice,
                                   errors=[{"row": 3, "column": "入住日期", "value": "2026-13-01",
                                            "message": "入住日期 2026-13-01 不是有效日期，应在 2026-12-05 之前"}],
                                   warnings=["交房日期 2026-02-30 已按 2026-03-01 处理"])
    client.force_login(alice)
    for url, marker in (("/collection/tasks/", "承诺"),
                        (f"/estate/imports/{job.pk}/", "入住日期"), (f"/estate/imports/{job.pk}/", "交房日期")):
        page = client.get(url).content.decode()
        texts = [t for t in re.findall(r">([^<>]*)<", page) if marker in t]
        assert texts, (url, marker)
        assert NOWRAP.search(page) and all(_bare_dates(t) == [] for t in texts), (url, texts)
    # the calendar's warning: the packaged calendar ends with 2026, so 45 days from 2026-12-05 are not covered
    from django.utils import timezone

    page = client.get("/collection/").content.decode()
    assert "节假日安排只覆盖到" in page or (timezone.localdate() + dt.timedelta(days=45)).year <= 2026
    if "节假日安排只覆盖到" in page:
        alert = page.split("节假日安排只覆盖到")[1].split("</div>")[0]
        assert NOWRAP.search(alert) and _bare_dates(alert) == [], alert
