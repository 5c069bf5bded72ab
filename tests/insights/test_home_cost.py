"""What the manager's home page costs (issue 18: the load test's slowest page): a bounded number of queries for a
manager of several projects, the projects in view read once, a stored snapshot's roll-ups grouped once and then
shared between requests until the snapshot changes (decision 198) — with the same figures as computed afresh."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from wuye.insights import tables
from wuye.insights.services import live_refresh, month_close

pytestmark = pytest.mark.django_db
FEB = dt.date(2026, 2, 1)


def _tables(response) -> dict:
    return {name: (t.rows, t.links) for name, t in response.context["tables"].items()}


def _kpis(page: str) -> str:
    return re.search(r'data-testid="kpis".*?</section>', page, re.S).group(0)


def test_the_home_page_reads_the_database_a_bounded_number_of_times(client, alice, small_ledger):
    """A manager assigned to projects: the projects are read once for the page (four times before), and the
    snapshot's groupings once per snapshot — 34 queries before, 20 now on a repeated visit."""
    from wuye.estate.models import Project

    alice.projects.set(Project.objects.all())
    live_refresh()
    client.force_login(alice)
    first = client.get("/insights/")
    with CaptureQueriesContext(connection) as q:
        again = client.get("/insights/")
    sql = [s["sql"] for s in q.captured_queries]
    assert len(sql) <= 20, "\n".join(sql)
    assert sum('INNER JOIN "accounts_user_projects"' in s for s in sql) == 1  # the projects assigned, once
    assert not [s for s in sql if "insights_monthfigure" in s or ("insights_monthrollup" in s and "period\" >=" not in s)]
    assert _tables(again) == _tables(first) and _kpis(again.content.decode()) == _kpis(first.content.decode())


def test_the_shared_figures_follow_the_provisional_snapshot(client, alice, small_ledger):
    """The roll-ups are shared between visits until the hourly job writes the snapshot again: a payment today
    is on the page after the next refresh, not before, and what the page shows equals figures grouped afresh."""
    live_refresh()
    client.force_login(alice)
    before = client.get("/insights/")
    assert "¥400.00" in _kpis(before.content.decode())  # 陈欠 of the four units (test_home_snapshot.py)
    small_ledger["pay"]("U4", 5000, timezone.localdate().isoformat())
    assert _tables(client.get("/insights/")) == _tables(before)  # the snapshot has not moved: neither has the page
    live_refresh()
    after = client.get("/insights/")
    assert "¥350.00" in _kpis(after.content.decode()) and _tables(after) != _tables(before)
    cache.clear()
    fresh = client.get("/insights/")
    assert _tables(fresh) == _tables(after) and _kpis(fresh.content.decode()) == _kpis(after.content.decode())


def test_the_shared_figures_follow_a_recheck_of_a_closed_month(client, alice, small_ledger):
    """A closed month's figures, shared, change with the recheck that adjusts them (its stamp and revision)."""
    from wuye.billing.services import payment_reverse

    month_close(period=FEB)
    client.force_login(alice)
    closed = client.get("/insights/?period=2026-02")
    payment_reverse(actor=alice, payment=small_ledger["late_feb"], reason="退票")
    month_close(period=FEB)  # the recheck: an adjustment row of revision 1
    rechecked = client.get("/insights/?period=2026-02")
    assert _tables(rechecked) != _tables(closed)
    cache.clear()
    assert _tables(client.get("/insights/?period=2026-02")) == _tables(rechecked)


def test_each_scope_has_its_own_shared_figures(client, alice, make_user, small_ledger):
    """Two managers, one of every project and one of a project with no figures, never see each other's
    roll-ups from the cache."""
    from wuye.accounts.choices import Role
    from wuye.estate.models import Project

    other = Project.objects.create(code="K2", name="另一个小区")
    dave = make_user("dave", Role.MANAGER, is_staff=True)
    dave.projects.set([other])
    live_refresh()
    client.force_login(alice)
    everyone = client.get("/insights/")
    assert "¥400.00" in _kpis(everyone.content.decode())
    client.force_login(dave)
    narrow = client.get("/insights/")
    assert "¥400.00" not in narrow.content.decode() and _tables(narrow) != _tables(everyone)
    cache.clear()
    assert _tables(client.get("/insights/")) == _tables(narrow)


def test_the_table_cells_are_escaped_as_format_html_escaped_them():
    """The cells are written without format_html (a third of the page's time) and read the same: text escaped,
    HTML kept, nothing shown as a dash, the first cell a link."""
    from decimal import Decimal

    from django.utils.functional import lazy

    t = tables.Table("x", "x", ["a", "b", "c", "d"])
    t.rows = [["<b>楼&栋</b>", Decimal("12.30"), None, mark_safe("<i>ok</i>")],
              [lazy(lambda: "懒<字>", str)(), 3, "\"'", 0]]
    t.links = ["/insights/units/?a=1&b=<2>", None]

    def by_format_html(i, cell, link):
        if i == 0 and link:
            return format_html('<td class="text-nowrap"><a class="tap" href="{}">{}</a></td>', link, cell)
        return format_html('<td class="text-nowrap{}">{}</td>', " num" if i else "", "—" if cell is None else cell)

    expected = "".join("<tr>" + "".join(by_format_html(i, c, link) for i, c in enumerate(row)) + "</tr>"
                       for row, link in zip(t.rows, t.links, strict=True))
    assert t.body_html == expected
    assert "&lt;b&gt;楼&amp;栋" in expected and "<i>ok</i>" in expected and "懒&lt;字&gt;" in expected
