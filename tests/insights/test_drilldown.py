"""Drill-down from a closed month lists the units its snapshot was made of, with the month-end amounts (not what
they owe today), and adds up to the figures shown — also after a late entry wrote adjustment lines.

The small ledger (conftest.py) at the end of February 2026: 2-101 owes its February line (10000, 1–30 days;
January was settled by the waiver and the 02-10 payment), 2-102 owes January (10000, 31–90 days) and February
(10000, 1–30 days). Today 2-102 owes 15000 (paid 15000 on 03-03, March billed)."""

from __future__ import annotations

import datetime as dt

import pytest

from wuye.insights.models import FigureKind, UnitFigure
from wuye.insights.selectors import month_figures, total, units_in_arrears
from wuye.insights.services import month_close

pytestmark = pytest.mark.django_db
FEB = dt.date(2026, 2, 1)
TODAY = dt.date(2026, 12, 4)
BUCKETS = ("age_30_fen", "age_90_fen", "age_180_fen", "age_365_fen", "age_2y_fen", "age_3y_fen", "age_over_3y_fen")


def _listed(user, **filters) -> dict[str, int]:
    return {r["unit__code"]: r["open_fen"] for r in units_in_arrears(user=user, **filters)}


def test_a_closed_month_lists_month_end_amounts_not_todays(client, alice, small_ledger):
    month_close(period=FEB, today=TODAY)
    b2 = small_ledger["b2"]
    assert _listed(alice, building=b2.pk, period=FEB) == {"2-101": 10000, "2-102": 20000}
    assert _listed(alice, building=b2.pk)["2-102"] == 15000  # today's list is another thing
    assert _listed(alice, bucket="age_90_fen", period=FEB) == {"2-102": 10000}
    client.force_login(alice)
    page = client.get(f"/insights/units/?period=2026-02&building={b2.pk}").content.decode()
    assert "月结快照" in page and "200.00" in page and "150.00" not in page
    page = client.get(f"/insights/units/?building={b2.pk}").content.decode()
    assert "150.00" in page and "月结快照" not in page


def test_the_home_page_links_a_closed_months_figures_to_its_snapshot(client, alice, small_ledger):
    month_close(period=FEB, today=TODAY)
    client.force_login(alice)
    page = client.get("/insights/?period=2026-02").content.decode()
    assert "/insights/units/?period=2026-02&amp;bucket=age_90_fen" in page
    assert f"/insights/units/?period=2026-02&amp;project={small_ledger['project'].pk}" in page


def _check_adds_up(user):
    month = month_figures(FEB, user=user, today=TODAY)
    figures = total(month).values
    for bucket in BUCKETS:
        assert sum(_listed(user, bucket=bucket, period=FEB).values()) == figures[bucket], bucket
    assert sum(_listed(user, period=FEB).values()) == sum(figures[b] for b in BUCKETS)
    return figures


def test_the_list_adds_up_to_the_figures_and_follows_adjustments(alice, small_ledger):
    from wuye.billing.services import payment_reverse

    month_close(period=FEB, today=TODAY)
    assert UnitFigure.objects.filter(period=FEB, kind=FigureKind.CLOSE).count() == 3
    assert _check_adds_up(alice)["age_30_fen"] == 20000
    # U2's February payment bounces after the close: 1-201 owed its February line at the month's end after all
    payment_reverse(actor=alice, payment=small_ledger["late_feb"], reason="银行退票")
    month_close(period=FEB, today=TODAY)
    assert UnitFigure.objects.filter(period=FEB, kind=FigureKind.ADJUST, revision=1).count() == 1
    assert _listed(alice, period=FEB)["1-201"] == 10000
    assert _check_adds_up(alice)["age_30_fen"] == 30000
    # a recheck with nothing new writes nothing
    month_close(period=FEB, today=TODAY)
    assert not UnitFigure.objects.filter(revision=2).exists()


def test_a_collector_filter_reads_the_snapshots_collector(alice, bob, small_ledger):
    from wuye.billing.services import payment_reverse

    month_close(period=FEB, today=TODAY)
    assert _listed(alice, collector=bob.pk, period=FEB) == {}
    payment_reverse(actor=alice, payment=small_ledger["late_feb"], reason="银行退票")
    month_close(period=FEB, today=TODAY)
    assert _listed(alice, collector=bob.pk, period=FEB) == {"1-201": 10000}


def test_the_api_lists_a_closed_month_from_its_snapshot(client, alice, small_ledger):
    month_close(period=FEB, today=TODAY)
    client.force_login(alice)
    r = client.get(f"/api/v1/insights/units/?period=2026-02&building={small_ledger['b2'].pk}")
    assert r.status_code == 200
    body = r.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert sorted(x["open_fen"] for x in rows) == [10000, 20000]
