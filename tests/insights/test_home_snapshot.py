"""The pages read snapshots only (decision 95): the month in progress from its provisional snapshot, a past month
not closed says so — on the home page, the drill-down and the API — and nothing is computed over the ledger on a
request: no query of a page touches the bills or their allocations, and the functions that compute are not
called. The drill-down pages through the stored per-unit totals with a capped count.

The small ledger (conftest.py) has lines January–March 2026; the pages run on the real today, so its month in
progress is later than every line."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from wuye.insights.models import FigureKind, LiveSnapshot, MonthClose, MonthFigure, UnitTotal
from wuye.insights.services import live_refresh, month_close

pytestmark = pytest.mark.django_db
FEB = dt.date(2026, 2, 1)
LEDGER_TABLES = ("billing_bill", "billing_allocation", "billing_adjustment", "billing_payment",
                 "billing_unitbalance")


def refuse_compute(monkeypatch):
    """Fail loudly if anything computes a month from the ledger."""
    def refuse(*args, **kwargs):
        raise AssertionError("computed over the ledger on a request")

    from wuye.insights import metrics, selectors, services, snapshot

    for module, name in ((metrics, "facts"), (metrics, "unit_ageing"), (selectors, "rows"),
                         (services, "live_refresh"), (snapshot.Snapshot, "__enter__")):
        monkeypatch.setattr(module, name, refuse)


@pytest.fixture
def no_compute(monkeypatch):
    refuse_compute(monkeypatch)


def _get(client, url: str) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        r = client.get(url)
    assert r.status_code == 200, url
    sql = [q["sql"] for q in queries.captured_queries]
    touched = [s for s in sql if any(re.search(rf"\b{t}\b", s) for t in LEDGER_TABLES)]
    assert touched == [], touched  # a page reads snapshots, never the ledger
    return r.content.decode(), sql


def test_the_home_page_shows_the_provisional_snapshot_and_never_computes(client, alice, small_ledger, monkeypatch):
    client.force_login(alice)
    from wuye.insights import snapshot

    real_enter = snapshot.Snapshot.__enter__
    monkeypatch.setattr(snapshot.Snapshot, "__enter__", lambda self: pytest.fail("computed on a request"))
    page, _ = _get(client, "/insights/")
    assert "本月的数字还没有算出" in page and 'data-testid="refresh"' in page
    assert 'data-testid="kpis"' not in page  # no figures rather than figures computed on the request
    assert not MonthFigure.objects.exists()

    monkeypatch.setattr(snapshot.Snapshot, "__enter__", real_enter)
    live_refresh()  # the hourly job
    at = timezone.localtime(MonthFigure.objects.filter(kind=FigureKind.LIVE).first().recorded_at)
    monkeypatch.setattr(snapshot.Snapshot, "__enter__", lambda self: pytest.fail("computed on a request"))
    page, sql = _get(client, "/insights/")
    assert "本月临时快照" in page and f"截至 {at:%m-%d %H:%M}" in page
    assert 'data-testid="kpis"' in page and "no-snapshot" not in page
    # 陈欠 today: 1-101 5000, 1-201 10000 (its March line), 2-101 10000, 2-102 15000 — all before this month
    assert "¥400.00" in page
    assert len(sql) < 40

    # the job is late: the page says so and still computes nothing
    LiveSnapshot.objects.update(taken_at=timezone.now() - dt.timedelta(hours=2))
    page, _ = _get(client, "/insights/")
    assert "可能已过时" in page and "¥400.00" in page


def test_a_manager_asks_for_the_snapshot_and_a_job_writes_it(client, alice, small_ledger):
    client.force_login(alice)
    r = client.post("/insights/refresh/", {"period": f"{timezone.localdate():%Y-%m}"})
    assert r.status_code == 302
    assert MonthFigure.objects.filter(kind=FigureKind.LIVE).exists()  # the job ran (immediate in tests)
    assert UnitTotal.objects.filter(period=timezone.localdate().replace(day=1)).exists()


def test_a_past_month_not_closed_shows_nothing_misleading(client, alice, small_ledger, no_compute):
    client.force_login(alice)
    b2 = small_ledger["b2"]
    page, _ = _get(client, "/insights/?period=2026-02")
    assert "2026-02 尚未月结" in page and 'data-testid="kpis"' not in page
    assert 'data-testid="refresh"' in page
    # the drill-down into that month: no list (it listed today's 150.00 for 2-102 as if it were February's)
    page, _ = _get(client, f"/insights/units/?period=2026-02&building={b2.pk}")
    assert "2026-02 尚未月结" in page and "2-102" not in page and "150.00" not in page
    assert 'data-testid="close-now"' in page
    api = APIClient()
    api.force_authenticate(alice)
    r = api.get("/api/v1/insights/units/?period=2026-02")
    assert r.status_code == 400 and "尚未月结" in str(r.json())
    r = client.get("/insights/export/units.xlsx?period=2026-02")
    assert r.status_code == 200  # an empty sheet that says the month is not closed


def test_closing_the_month_from_the_page_gives_its_month_end_list(client, alice, small_ledger):
    client.force_login(alice)
    b2 = small_ledger["b2"]
    r = client.post("/insights/refresh/", {"period": "2026-02", "next": f"/insights/units/?period=2026-02&building={b2.pk}"})
    assert r.status_code == 302 and r.url == f"/insights/units/?period=2026-02&building={b2.pk}"
    assert MonthClose.objects.filter(period=FEB).exists()
    page = client.get(r.url).content.decode()
    assert "月结快照" in page and "200.00" in page and "150.00" not in page  # 2-102 owed 200 at February's end


def test_the_drill_down_pages_with_a_capped_count(client, alice, small_ledger, monkeypatch):
    from wuye.insights import views

    month_close(period=FEB, today=dt.date(2026, 12, 4))
    refuse_compute(monkeypatch)
    client.force_login(alice)
    monkeypatch.setattr(views, "UNITS_PAGE", 1)
    page, sql = _get(client, "/insights/units/?period=2026-02")
    assert "2-102" in page and "2-101" not in page  # 200.00 first, then 100.00
    assert "共 2 户" in page and 'data-testid="next-page"' in page
    page, _ = _get(client, "/insights/units/?period=2026-02&page=2")
    assert "2-101" in page and "2-102" not in page and 'data-testid="next-page"' not in page
    monkeypatch.setattr(views, "UNITS_COUNT_CAP", 1)
    page, _ = _get(client, "/insights/units/?period=2026-02")
    assert "共 1+ 户" in page
    page, _ = _get(client, "/insights/units/?period=2026-02&page=junk")
    assert "2-102" in page


def test_the_stored_totals_add_up_to_the_per_unit_rows(alice, small_ledger):
    """UnitTotal is UnitFigure summed per unit (in all and per bucket), also after a recheck's adjustments."""
    from django.db.models import Sum

    from wuye.billing.services import payment_reverse
    from wuye.insights.models import UnitFigure

    def check():
        figures = UnitFigure.objects.filter(period=FEB, kind__in=[FigureKind.CLOSE, FigureKind.ADJUST])
        per_unit = {r["unit_id"]: r["s"] for r in figures.values("unit_id").annotate(s=Sum("open_fen")) if r["s"]}
        totals = dict(UnitTotal.objects.filter(period=FEB, bucket="").values_list("unit_id", "open_fen"))
        assert totals == per_unit
        per_bucket = {(r["unit_id"], r["bucket"]): r["s"] for r in
                      figures.values("unit_id", "bucket").annotate(s=Sum("open_fen")) if r["s"]}
        assert dict(((u, b), f) for u, b, f in UnitTotal.objects.filter(period=FEB).exclude(bucket="")
                    .values_list("unit_id", "bucket", "open_fen")) == per_bucket
        return totals

    month_close(period=FEB, today=dt.date(2026, 12, 4))
    assert sorted(check().values()) == [10000, 20000]
    payment_reverse(actor=alice, payment=small_ledger["late_feb"], reason="银行退票")
    month_close(period=FEB, today=dt.date(2026, 12, 4))
    assert sorted(check().values()) == [10000, 10000, 20000]  # 1-201 owed its February line after all


def test_the_list_of_this_month_reads_its_provisional_snapshot(client, alice, small_ledger, monkeypatch):
    """Without ``period`` the drill-down is the month in progress: its provisional snapshot once there is one
    (labelled with its time, never a grouping of the open lines on the request), else today's open lines."""
    client.force_login(alice)
    page = client.get("/insights/units/").content.decode()
    assert "截至今天" in page and "150.00" in page  # no snapshot yet: from the ledger
    live_refresh()
    refuse_compute(monkeypatch)
    for url in ("/insights/units/", f"/insights/units/?period={timezone.localdate():%Y-%m}"):
        page, _ = _get(client, url)
        assert "本月临时快照（截至" in page and "2-102" in page and "150.00" in page
    api = APIClient()
    api.force_authenticate(alice)
    rows = api.get("/api/v1/insights/units/").json()["results"]
    assert {r["code"]: r["open_fen"] for r in rows} == {"2-102": 15000, "2-101": 10000, "1-201": 10000, "1-101": 5000}


@pytest.mark.parametrize(("period", "says"), [("2025-12", "早于第一期账单"), ("2019-03", "只能计算最近 24 个月"),
                                              ("2030-01", "还没有到")])
def test_a_month_before_the_first_bill_too_far_back_or_to_come_is_not_closed(client, alice, small_ledger, period,
                                                                              says):
    """Decision 182: the refresh closed an empty month (2019-03, before the estate's first bill); a future month
    said only 不需要刷新. They are refused with the reason at the refresh, the job behind it and the API; the
    pages do not offer the button for a month too far back (they read no bill, so a month before the first bill
    is refused when asked)."""
    from wuye.insights.tasks import month_snapshot

    client.force_login(alice)
    r = client.post("/insights/refresh/", {"period": period}, follow=True)
    assert r.status_code == 200 and says in r.content.decode()
    assert not MonthClose.objects.exists() and not MonthFigure.objects.exists()
    month_snapshot(f"{period}-01")  # the job behind the button, queued before the rule or by hand
    assert not MonthClose.objects.exists()
    api = APIClient()
    api.force_authenticate(alice)
    r = api.get(f"/api/v1/insights/units/?period={period}")
    assert r.status_code == 400 and (says in str(r.json()) or period > "2026-12")
    if period == "2019-03":  # the reason instead of the button, on both pages
        for url in (f"/insights/?period={period}", f"/insights/units/?period={period}"):
            page, _ = _get(client, url)
            assert says in page and 'data-testid="refusal"' in page, url
            assert 'data-testid="refresh"' not in page and 'data-testid="close-now"' not in page, url
    # a month of the ledger still closes from the page
    client.post("/insights/refresh/", {"period": "2026-02"})
    assert MonthClose.objects.filter(period=FEB).exists()


def test_a_month_more_than_24_months_back_is_refused_as_the_scheduled_close_keeps_it(small_ledger):
    from wuye.insights.services import refresh_refusal

    assert refresh_refusal(FEB, today=dt.date(2026, 12, 5)) == ""
    assert refresh_refusal(FEB, today=dt.date(2028, 2, 10)) == ""  # 24 months back: the close's window
    assert "只能计算最近 24 个月（2026-03 起）" in refresh_refusal(FEB, today=dt.date(2028, 3, 1))
    assert "还没有到" in refresh_refusal(dt.date(2027, 1, 1), today=dt.date(2026, 12, 31))
