"""The manager's pages: landing after login, the home page's figures and tables, drill-down, Excel, targets."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest

from wuye.insights.models import Target
from wuye.insights.services import month_close

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 12, 4)


def test_the_manager_lands_on_the_numbers_after_login(client, alice, small_ledger):
    r = client.post("/login/", {"username": "alice", "password": "pw-12345678"})
    assert r.status_code == 302 and r.url == "/insights/"


def test_collectors_and_customer_service_do_not_see_the_numbers(client, bob, dave):
    for user in (bob, dave):
        client.force_login(user)
        assert client.get("/insights/").status_code == 403
        assert client.get("/insights/units/").status_code == 403
        assert client.get("/insights/export/projects.xlsx").status_code == 403


def test_a_closed_month_shows_its_snapshot_tables_and_definitions(client, alice, small_ledger):
    month_close(period=dt.date(2026, 2, 1), today=TODAY)
    client.force_login(alice)
    page = client.get("/insights/?period=2026-02").content.decode()
    assert "已月结" in page and "50.00%" in page and "30.00%" in page  # 收费率, 清欠率 (test_kpis' table)
    assert "当期实收 ÷ 当期应收" in page  # the definition as a tooltip
    for name in ("projects", "collectors", "buildings", "ageing", "fee_items", "trend"):
        assert f'data-testid="table-{name}"' in page
    assert 'id="insights-data"' in page and "vendor/echarts/echarts.common.min.js" in page
    assert "bob" in page  # the league


def test_drill_down_lists_the_units_behind_a_building_and_a_bucket(client, alice, small_ledger):
    client.force_login(alice)
    b2 = small_ledger["b2"]
    page = client.get(f"/insights/units/?building={b2.pk}").content.decode()
    # open today: U3 February (March written off), U4 half of February and March; building 1 is not listed
    assert "2-101" in page and "2-102" in page and "150.00" in page and "1-201" not in page
    page = client.get("/insights/units/?bucket=age_over_3y_fen").content.decode()
    assert "没有欠费房屋" in page


def test_every_table_exports_to_excel(client, alice, small_ledger):
    client.force_login(alice)
    for name in ("projects", "collectors", "buildings", "ageing", "fee_items", "trend", "units"):
        r = client.get(f"/insights/export/{name}.xlsx?period=2026-03")
        assert r.status_code == 200, name
        wb = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)))
        assert wb.active.max_row >= 2, name
    assert client.get("/insights/export/nothing.xlsx").status_code == 404


def test_a_manager_sets_a_target_and_sees_the_gap(client, alice, small_ledger):
    client.force_login(alice)
    project = small_ledger["project"]
    r = client.post("/insights/targets/", {"project": project.pk, "period": "2026-02", "collection_rate": "90"})
    assert r.status_code == 302
    assert Target.objects.get(project=project).collection_rate == Decimal("90.00")
    month_close(period=dt.date(2026, 2, 1), today=TODAY)
    page = client.get("/insights/?period=2026-02").content.decode()
    assert "90.00%" in page and "-40.00" in page
    r = client.post("/insights/targets/", {"project": project.pk, "period": "2026-02", "collection_rate": "120"})
    assert Target.objects.get(project=project).collection_rate == Decimal("90.00")
