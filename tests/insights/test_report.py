"""The monthly report PDF: read back with pdftotext, its figures are the snapshot's, its tables add up to their
totals, and it names no owner and no unit."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from decimal import Decimal

import pytest

from wuye.insights.report import money, monthly_report, report_pdf
from wuye.insights.selectors import month_figures, total
from wuye.insights.services import month_close

pytestmark = pytest.mark.django_db
FEB = dt.date(2026, 2, 1)
TODAY = dt.date(2026, 12, 4)


def _text(pdf: bytes, tmp_path) -> str:
    assert shutil.which("pdftotext"), "poppler-utils (pdftotext) is needed"
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def _amount(text: str, label: str) -> Decimal:
    m = re.search(rf"^\s*{re.escape(label)}\s+([-\d,]+\.\d\d)", text, re.M)
    assert m, f"{label} not printed"
    return Decimal(m.group(1).replace(",", ""))


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start):text.index(end)]


def test_the_report_prints_the_snapshot_and_adds_up(alice, small_ledger, tmp_path):
    from wuye.billing.services import payment_reverse
    from wuye.insights.services import target_set

    target_set(actor=alice, project=small_ledger["project"], period=FEB, collection_rate=Decimal("90"))
    month_close(period=dt.date(2026, 1, 1), today=TODAY)
    month_close(period=FEB, today=TODAY)
    payment_reverse(actor=alice, payment=small_ledger["late_feb"], reason="银行退票")
    month_close(period=FEB, today=TODAY)  # an adjustment line: the report says so and counts it
    snap = total(month_figures(FEB, user=alice, today=TODAY)).values
    text = _text(report_pdf(monthly_report(FEB, user=alice, today=TODAY)), tmp_path)
    assert "2026 年 2 月" in text and "月结后调整 1 次" in text
    for label, key in (("当期应收", "billed_fen"), ("当期实收", "collected_fen"), ("月初陈欠", "old_start_fen"),
                       ("清欠实收", "old_collected_fen"), ("月末当期欠费", "current_open_fen"),
                       ("月末陈欠", "old_open_fen"), ("月末预存余额", "prepaid_fen")):
        assert _amount(text, label) == Decimal(snap[key]) / 100, label
    assert _amount(text, "当期实收") == Decimal("100.00")  # 20000 − the bounced 10000
    assert re.search(r"收费率（当期）\s+25\.00%", text) and re.search(r"目标收费率\s+90\.00%", text)
    assert re.search(r"清欠率\s+30\.00%", text)
    # ageing: the buckets add up to the 合计, which is the snapshot's overdue total
    ageing = _section(text, "三、欠费账龄", "四、")
    rows = re.findall(r"^\s*(1–30 天|31–90 天|91–180 天|181–365 天|1–2 年|2–3 年|3 年以上)\s+([\d,]+\.\d\d)", ageing, re.M)
    assert len(rows) == 7
    total_line = _amount(ageing, "合计")
    assert sum(Decimal(v.replace(",", "")) for _, v in rows) == total_line
    assert total_line == Decimal(snap["age_30_fen"] + snap["age_90_fen"]) / 100 == Decimal("400.00")
    # buildings: the top buildings and 其他楼栋 add up to the total arrears; no unit, no owner
    buildings = _section(text, "四、欠费最多的楼栋", "五、")
    lines = re.findall(r"^\s*测试小区 (\S+)\s+([\d,]+\.\d\d)", buildings, re.M)
    assert [name for name, _ in lines] == ["2幢", "1幢"]
    listed = sum(Decimal(v.replace(",", "")) for _, v in lines) + _amount(buildings, "其他楼栋")
    assert listed == _amount(buildings, "合计") == Decimal(snap["current_open_fen"] + snap["old_open_fen"]) / 100
    # projects: the lines add up to the 合计 row
    projects = _section(text, "二、各项目", "三、")
    assert re.search(r"测试小区\s+400\.00\s+100\.00\s+25\.00%\s+90\.00%\s+-65\.00", projects)
    assert re.search(r"合计\s+400\.00\s+100\.00\s+25\.00%", projects)
    # trend: the closed months up to February
    trend = text[text.index("五、"):]
    assert re.search(r"2026-01\s+\S+%", trend) and re.search(r"2026-02\s+25\.00%", trend)
    for unit in ("1-101", "1-201", "2-101", "2-102"):
        assert unit not in text
    for owner in ("业主U1", "业主U2", "业主U3", "业主U4"):
        assert owner not in text


def test_only_a_closed_month_has_a_report(client, alice, small_ledger):
    client.force_login(alice)
    assert client.get("/insights/report/2026-02.pdf").status_code == 404
    month_close(period=FEB, today=TODAY)
    r = client.get("/insights/report/2026-02.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert 'href="/insights/report/2026-02.pdf"' in client.get("/insights/?period=2026-02").content.decode()


def test_money_is_printed_with_separators():
    assert money(123456789) == "1,234,567.89" and money(-100) == "-1.00" and money(None) == "—"
