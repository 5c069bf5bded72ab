"""Issue 16 checked item by item: what was missing or wrong, each with the test that shows it.

- A project billed every 3 months has no 收费率 between its bills: the page, chart data, tables, exports, API and
  report say 本月无账单（按季计费）instead of leaving a silent gap.
- The 清欠率 target a manager sets is shown with its gap (it was stored and never shown).
- A table's headers carry the definitions as tooltips; every figure card drills down; a trend month links to
  its units; the collectors' incentive rows drill into that month's snapshot, not today's list.
- A late payment and a reversal after the close show as separate adjustment lines (page, Excel, PDF).
- The credit, early-warning and expense tables export to Excel.
- Hostile input: out-of-range periods and dates are a 400, never a 500 or a future month answered as today.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from html import unescape

import openpyxl
import pytest

from tests.insights.conftest import at
from wuye.insights.services import month_close

pytestmark = pytest.mark.django_db
JAN, FEB, MAR = dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)
TODAY = dt.date(2026, 12, 4)
NO_BILL = "本月无账单（按季计费）"


@pytest.fixture
def quarterly(db, alice):
    return build_quarterly(alice)


def build_quarterly(alice) -> dict:
    """One project billed every 3 months from January (bills in January, April, …): three units, ¥300 a
    quarter each, due 01-15; Q1 pays on 01-10, Q2 on 02-20 (清欠 in February), Q3 never."""
    from wuye.billing.choices import FeeKind, PaymentMethod, Pricing
    from wuye.billing.models import BillingPolicy, FeeItem, Rate
    from wuye.billing.services import bill_generate, payment_record
    from wuye.estate.choices import OccupantRole, PartyKind, PropertyType
    from wuye.estate.models import Building, Party, Project, Unit
    from wuye.estate.services import occupancy_start

    dev = Party.objects.create(kind=PartyKind.COMPANY, name="开发商Q", natural_key="dev:Q1", is_developer=True)
    project = Project.objects.create(code="Q1", name="季付小区", developer=dev)
    building = Building.objects.create(project=project, code="1", name="1幢", floors=1)
    BillingPolicy.objects.create(project=project, cycle_months=3, anchor_month=1, due_day=15)
    item = FeeItem.objects.create(project=project, code="WY", name="物业服务费", kind=FeeKind.PROPERTY,
                                  pricing=Pricing.FIXED)
    Rate.objects.create(fee_item=item, price=Decimal("100"), effective_from=dt.date(2020, 1, 1))
    units = []
    for n in ("101", "102", "103"):
        unit = Unit.objects.create(project=project, building=building, floor=1, number=n, code=f"1-{n}",
                                   property_type=PropertyType.HIGH_RISE, area=Decimal("80.00"), state="self")
        owner = Party.objects.create(name=f"季付业主{n}", natural_key=f"q:{n}")
        occupancy_start(actor=alice, unit=unit, party=owner, role=OccupantRole.OWNER, start=dt.date(2020, 1, 1))
        units.append(unit)
    bill_generate(actor=alice, project=project, period=JAN, on=JAN)
    payment_record(actor=alice, unit=units[0], amount_fen=30000, method=PaymentMethod.CASH, paid_at=at("2026-01-10"))
    payment_record(actor=alice, unit=units[1], amount_fen=30000, method=PaymentMethod.CASH, paid_at=at("2026-02-20"))
    for period in (JAN, FEB, MAR):
        month_close(period=period, actor_label="test", today=TODAY)
    return {"project": project, "units": units}


def _xlsx(response) -> list[list]:
    assert response.status_code == 200, response.status_code
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]
    return [[c.value for c in row] for row in sheet.iter_rows()]


def _text(response) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))


# --- 本月无账单 ---------------------------------------------------------------------------------------------------

def test_a_month_without_a_bill_says_so_on_the_page_chart_and_tables(client, alice, quarterly):
    client.force_login(alice)
    r = client.get("/insights/?period=2026-02")
    assert r.status_code == 200
    ctx = r.context
    assert ctx["month"].source == "close"
    assert ctx["no_bill"] == NO_BILL
    text = _text(r)
    assert NO_BILL in text  # the KPI card, not "—"
    # the projects chart: no bar, but the project is marked and the reason is written under the chart
    assert ctx["chart"]["projects"]["actual"] == [None]
    assert ctx["chart"]["projects"]["nobill"] == [NO_BILL]
    assert "季付小区（按季计费）" in " ".join(ctx["tables"]["projects"].notes)
    assert 'data-testid="chart-projects-no-bill"' in r.content.decode()
    row = ctx["tables"]["projects"].rows[0]
    assert row[3] == NO_BILL and row[4] == NO_BILL and row[5] == Decimal("50.00")  # 清欠 still counts: Q2 paid
    # the trend: February and March have figures but no bill — marked, not a silent gap; January has its rate
    trend = dict(zip(ctx["chart"]["trend"]["labels"], ctx["chart"]["trend"]["nobill"], strict=True))
    assert trend["2026-02"] == trend["2026-03"] == NO_BILL and trend["2026-01"] is None
    rates = dict(zip(ctx["chart"]["trend"]["labels"], ctx["chart"]["trend"]["collection"], strict=True))
    assert rates["2026-01"] == pytest.approx(33.33) and rates["2026-02"] is None
    assert 'data-testid="chart-trend-no-bill"' in r.content.decode()
    assert "2026-02、2026-03：本月无账单（按季计费）" in text


def test_a_month_without_a_bill_says_so_in_the_exports_api_and_report(client, alice, quarterly):
    client.force_login(alice)
    rows = _xlsx(client.get("/insights/export/trend.xlsx"))
    feb = next(r for r in rows if r[0] == "2026-02")
    assert feb[1] == NO_BILL and feb[2] == NO_BILL
    assert any(r[0] and "本月无账单" in str(r[0]) and "2026-02" in str(r[0]) for r in rows)  # the note line
    rows = _xlsx(client.get("/insights/export/projects.xlsx?period=2026-02"))
    assert rows[2][3] == NO_BILL
    points = {p["label"]: p for p in client.get("/api/v1/insights/trend/").json()}
    assert points["2026-02"]["no_bill"] == NO_BILL and points["2026-02"]["collection_rate"] is None
    assert points["2026-01"]["no_bill"] == ""

    from wuye.insights.report import monthly_report, report_pdf

    report = monthly_report(FEB, user=alice, today=TODAY)
    assert report_pdf(report)[:4] == b"%PDF"
    from wuye.insights import report as report_module

    assert report_module.rate(report.company, report.company.collection_rate) == "本月无账单"


# --- targets: 清欠率 too -------------------------------------------------------------------------------------------

def test_the_clearance_target_is_shown_with_its_gap(client, alice, small_ledger):
    from wuye.insights.services import target_set

    month_close(period=FEB, actor_label="test", today=TODAY)
    target_set(actor=alice, project=small_ledger["project"], period=FEB, collection_rate=Decimal("60"),
               clearance_rate=Decimal("50"))
    client.force_login(alice)
    r = client.get("/insights/?period=2026-02")
    t = r.context["tables"]["projects"]
    row = dict(zip(t.headers, t.rows[0], strict=True))
    assert row["目标收费率（%）"] == Decimal("60.00") and row["差距（百分点）"] == Decimal("-10.00")
    assert row["目标清欠率（%）"] == Decimal("50.00") and row["清欠差距（百分点）"] == Decimal("-20.00")  # 30 − 50
    group = client.get("/api/v1/insights/figures/?period=2026-02&by=project").json()["groups"][0]
    assert group["target_clearance_rate"] == "50.00" and group["target_collection_rate"] == "60.00"


# --- tooltips and drill-downs ---------------------------------------------------------------------------------

def test_headers_carry_the_definitions_and_every_rate_card_drills_down(client, alice, small_ledger):
    from wuye.insights.tables import DEFINITIONS

    month_close(period=FEB, actor_label="test", today=TODAY)
    client.force_login(alice)
    html = client.get("/insights/?period=2026-02").content.decode()
    for header, key in (("户收费率（%）", "household_rate"), ("清欠率（%）", "clearance_rate"),
                        ("收费率（%）", "collection_rate"), ("陈欠（元）", "old_open_fen")):
        th = re.search(rf'<th class="text-nowrap" title="([^"]+)">{re.escape(header)}</th>', html)
        assert th and unescape(th.group(1)) == DEFINITIONS[key], header
    for card in ("kpi-collection", "kpi-household", "kpi-clearance", "kpi-arrears"):
        link = re.search(rf'<a [^>]*href="([^"]+)"[^>]*data-testid="{card}"', html)
        assert link and unescape(link.group(1)) == "/insights/units/?period=2026-02", card


def test_incentive_rows_and_trend_months_drill_into_that_months_snapshot(client, alice, bob, small_ledger):
    month_close(period=FEB, actor_label="test", today=TODAY)
    client.force_login(alice)
    r = client.get("/insights/?period=2026-02")
    assert r.context["tables"]["incentives"].links == [f"/insights/units/?period=2026-02&collector={bob.pk}"]
    trend = r.context["tables"]["trend"]
    links = dict(zip([row[0] for row in trend.rows], trend.links, strict=True))
    assert links["2026-02"] == "/insights/units/?period=2026-02"
    assert links["2026-01"] is None  # not closed: no list as of its end
    assert r.context["chart"]["trend"]["links"] == trend.links
    units = client.get(links["2026-02"]).content.decode()
    assert "2-101" in units and "2-102" in units


# --- adjustments after the close --------------------------------------------------------------------------------

def test_changes_after_the_close_are_their_own_lines(client, alice, small_ledger, tmp_path):
    from wuye.billing.services import payment_reverse

    month_close(period=FEB, actor_label="test", today=TODAY)
    client.force_login(alice)
    assert client.get("/insights/?period=2026-02").context["tables"]["adjustments"].rows == []
    payment_reverse(actor=alice, payment=small_ledger["late_feb"], reason="银行退票")
    month_close(period=FEB, actor_label="test", today=TODAY)
    small_ledger["pay"]("U4", 3000, "2026-02-27", ref="BANK-0227")
    month_close(period=FEB, actor_label="test", today=TODAY)

    r = client.get("/insights/?period=2026-02")
    t = r.context["tables"]["adjustments"]
    lines = {row[0]: row for row in t.rows}
    assert list(lines) == ["月结快照", "调整 1", "调整 2", "现数（已含调整）"]
    # 当期实收 200.00 as closed, −100.00 (the reversal), +30.00 (the late transfer) = 130.00
    assert [lines[k][2] for k in lines] == [Decimal("200.00"), Decimal("-100.00"), Decimal("30.00"),
                                             Decimal("130.00")]
    assert [lines[k][3] for k in lines] == [2, -1, 0, 1]  # households settled
    assert 'data-testid="table-adjustments"' in r.content.decode()
    api = client.get("/api/v1/insights/adjustments/?period=2026-02").json()
    assert [(a["revision"], a["collected"]) for a in api] == [(None, 20000), (1, -10000), (2, 3000)]
    rows = _xlsx(client.get("/insights/export/adjustments.xlsx?period=2026-02"))
    assert [r[0] for r in rows[2:6]] == list(lines) and rows[5][2] == 130

    from tests.insights.test_report import _text as pdf_text
    from wuye.insights.report import monthly_report, report_pdf

    text = pdf_text(report_pdf(monthly_report(FEB, user=alice, today=TODAY)), tmp_path)
    assert re.search(r"其中：月结后调整\s+-70\.00", text)


# --- every table exports --------------------------------------------------------------------------------------

def test_the_credit_risk_and_expense_tables_export(client, alice, small_ledger):
    from wuye.insights.disclosure import expense_record

    client.force_login(alice)
    rows = _xlsx(client.get("/insights/export/credit.xlsx"))
    assert rows[1] == ["等级", "含义", "业主数", "占比（%）"] and [r[0] for r in rows[2:6]] == ["A", "B", "C", "D"]
    assert sum(r[2] for r in rows[2:6]) == 4
    assert 'data-testid="export-credit"' in client.get("/insights/credit/").content.decode()

    rows = _xlsx(client.get("/insights/export/risk.xlsx"))
    assert rows[0][1] == "尚未训练预警模型"

    project = small_ledger["project"]
    expense_record(actor=alice, project=project, category="cleaning", amount_fen=120050,
                   spent_on=dt.date(2026, 2, 10), voucher_no="PZ-001", note="二月保洁")
    rows = _xlsx(client.get(f"/insights/export/expenses.xlsx?project={project.pk}&year=2026&quarter=1"))
    assert rows[2][1:4] == ["保洁", 1200.5, "PZ-001"]
    page = client.get(f"/insights/disclosure/?project={project.pk}&year=2026&quarter=1").content.decode()
    assert f"/insights/export/expenses.xlsx?project={project.pk}&amp;year=2026&amp;quarter=1" in page
    assert client.get("/insights/export/expenses.xlsx?project=987654321").status_code == 404


# --- hostile input --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "/insights/?period=9999-99", "/insights/?period=0000-01", "/insights/units/?period=2026-13",
    "/insights/export/projects.xlsx?period=0000-01", "/insights/report/9999-99.pdf",
    "/insights/steps/?end=0001-01-01", "/insights/steps/?start=0001-01-01", "/insights/steps/?end=9999-12-31x",
    "/insights/export/steps.xlsx?end=0001-01-01", "/insights/units/?project=99999999999999999999",
])
def test_out_of_range_periods_and_dates_are_a_400(client, alice, url):
    client.force_login(alice)
    assert client.get(url).status_code == 400


@pytest.mark.parametrize("url", [
    "/api/v1/insights/units/?period=2100-01", "/api/v1/insights/ageing/?period=2100-01",
    "/api/v1/insights/figures/?period=2100-01", "/api/v1/insights/collectors/?period=2100-01",
    "/api/v1/insights/units/?period=9999-99", "/api/v1/insights/steps/?end=0001-01-01",
    "/api/v1/insights/trend/?months=99999999999999999999",
])
def test_the_api_answers_400_for_a_future_or_impossible_month(client, alice, url):
    client.force_login(alice)
    assert client.get(url).status_code == 400


@pytest.mark.parametrize("url", ["/gongshi/K1/99999999999999999999-Q1/", "/gongshi/K1/2026-Q99999999999999999999/",
                                 "/gongshi/K1/2026-Q5/", "/insights/disclosure/99999999999999999999/poster/"])
def test_impossible_numbers_in_a_disclosure_path_are_a_404(client, alice, url):
    client.force_login(alice)
    assert client.get(url).status_code == 404


def test_a_huge_page_number_is_an_empty_last_page(client, alice, small_ledger):
    month_close(period=FEB, actor_label="test", today=TODAY)
    client.force_login(alice)
    r = client.get("/insights/units/?period=2026-02&page=99999999999999999999")
    assert r.status_code == 200 and r.context["page_obj"].number == 100_000 and r.context["page_obj"].rows == []


# --- the API ----------------------------------------------------------------------------------------------------

def test_every_insights_endpoint_is_in_the_openapi_schema(client, alice):
    from django.urls import URLResolver, get_resolver

    def routes(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from routes(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern)

    ours = [r for r in routes(get_resolver().url_patterns) if r.startswith("api/v1/insights/")]
    assert len(ours) >= 11 and "api/v1/insights/adjustments/" in ours
    client.force_login(alice)
    schema = client.get("/api/schema/").content.decode()
    for route in ours:
        assert re.search(rf"/{re.escape(route)}[\"':]", schema), route
