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
    assert '<span class="text-nowrap">2099-01</span> 不需要刷新。' in alert


@pytest.mark.django_db
def test_the_desks_late_fee_calculations_keep_their_dates_whole(client, alice, arrears_estate):
    """The unit statement (the cashier's page): each late fee's calculation names its days, from … to …."""
    client.force_login(alice)
    page = client.get(f"/billing/units/{arrears_estate['units'][0].pk}/").content.decode()
    details = page.split('data-testid="late-fee-details"')[1].split("</table>")[0]
    calculations = [c for c in re.findall(r'<td class="text-secondary[^"]*">(.*?)</td>', details, re.S) if "至" in c]
    assert calculations, details
    assert all(NOWRAP.search(c) and _bare_dates(c) == [] for c in calculations), calculations
