"""The manager's home in a real browser at 1280 and 375 px: lands there after login, the charts render (a canvas
in each, no console error, no horizontal scroll), a click on a building's bar reaches the list of its units,
and the Excel export opens with openpyxl. Screenshots go to WUYE_SCREENSHOTS (the e2e artefacts folder)."""

from __future__ import annotations

import datetime as dt
import re

import openpyxl
import pytest

from tests.e2e.conftest import artefacts_dir
from tests.insights.conftest import build_small_ledger
from tests.insights.test_review import NO_BILL, build_quarterly

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHARTS = ("chart-projects", "chart-trend", "chart-ageing", "chart-buildings", "chart-collectors")


@pytest.fixture
def closed_ledger(alice, bob):
    from wuye.insights.services import month_close

    small_ledger = build_small_ledger(alice, bob)
    for month in (1, 2, 3):
        month_close(period=dt.date(2026, month, 1), actor_label="e2e")
    return small_ledger


@pytest.mark.parametrize("width", [1280, 375])
def test_manager_home_renders_charts_drills_down_and_exports(browser, live_server, alice, closed_ledger, tmp_path,
                                                            width):
    shots = artefacts_dir()
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors, failed = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("用户名").fill("alice")
        page.get_by_label("密码").fill("pw-12345678")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r"/insights/$"))
        # this month has no provisional snapshot yet: the page says so (and computes nothing), the trend still shows
        page.get_by_test_id("no-snapshot").wait_for()
        page.locator("#chart-trend canvas").first.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        page.screenshot(path=str(shots / f"insights-home-missing-{width}.png"), full_page=True)
        # a past month nobody closed: no list of units, a clear word and the way to close it
        page.goto(f"{live_server.url}/insights/units/?period=2026-04")
        page.get_by_test_id("unclosed").wait_for()
        assert page.get_by_test_id("unit-list").count() == 0  # not even an empty list, which would say "nobody owes"
        page.screenshot(path=str(shots / f"insights-units-unclosed-{width}.png"), full_page=True)
        page.goto(f"{live_server.url}/insights/")
        page.select_option("#period", "2026-03")
        page.wait_for_url(re.compile(r"period=2026-03"))
        for chart in CHARTS:
            page.locator(f"#{chart} canvas").first.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        small = page.evaluate("""Array.from(document.querySelectorAll('main a.tap, main button.tap, main select.tap'))
            .filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect().height)
            .filter(h => h < 44).length""")
        assert small == 0
        page.screenshot(path=str(shots / f"insights-home-{width}.png"), full_page=True)

        with page.expect_download() as dl:
            page.get_by_test_id("export-buildings").click()
        path = tmp_path / "buildings.xlsx"
        dl.value.save_as(path)
        sheet = openpyxl.load_workbook(path).active
        assert sheet["A2"].value == "楼栋" and "2幢" in str(sheet["A3"].value)

        # a click on the bar of the building with the most arrears opens its units
        page.locator("#chart-buildings").scroll_into_view_if_needed()
        box = page.locator("#chart-buildings canvas").first.bounding_box()
        bar = page.evaluate("""() => {
            const c = echarts.getInstanceByDom(document.getElementById('chart-buildings'));
            return c.convertToPixel({seriesIndex: 0}, [c.getOption().series[0].data[0] / 2, 0]);
        }""")
        page.mouse.click(box["x"] + bar[0], box["y"] + bar[1])
        page.wait_for_url(re.compile(r"/insights/units/\?"))
        units = page.get_by_test_id("unit-list").inner_text()
        assert "2-101" in units and "2-102" in units
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        page.screenshot(path=str(shots / f"insights-units-{width}.png"), full_page=True)
    finally:
        context.close()
    assert errors == [] and failed == []


@pytest.mark.parametrize("width", [1280, 375])
def test_a_month_without_a_bill_is_marked_not_a_silent_gap(browser, live_server, alice, width):
    """A project billed every 3 months, February closed: the KPI card and the notes under both charts say
    本月无账单（按季计费）, the trend draws a dashed 无账单 line at February and March, the project's axis label
    says so, and the tooltip of February gives the reason."""
    build_quarterly(alice)
    shots = artefacts_dir()
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("用户名").fill("alice")
        page.get_by_label("密码").fill("pw-12345678")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r"/insights/$"))
        page.goto(f"{live_server.url}/insights/?period=2026-02")
        for chart in CHARTS:
            page.locator(f"#{chart} canvas").first.wait_for()
        assert page.get_by_test_id("kpi-no-bill").inner_text() == NO_BILL
        assert "按季计费" in page.get_by_test_id("chart-projects-no-bill").inner_text()
        assert "2026-02、2026-03" in page.get_by_test_id("chart-trend-no-bill").first.inner_text()
        marks = page.evaluate("""() => {
            const c = echarts.getInstanceByDom(document.getElementById('chart-trend'));
            return c.getOption().series[0].markLine.data.map(d => d.xAxis);
        }""")
        assert marks == ["2026-02", "2026-03"]
        label = page.evaluate("""() => {
            const c = echarts.getInstanceByDom(document.getElementById('chart-projects'));
            return c.getOption().xAxis[0].axisLabel.formatter('季付小区', 0);
        }""")
        assert "无账单" in label
        tip = page.evaluate("""() => {
            const c = echarts.getInstanceByDom(document.getElementById('chart-trend'));
            const i = c.getOption().xAxis[0].data.indexOf('2026-02');
            return c.getOption().tooltip[0].formatter([{dataIndex: i, axisValueLabel: '2026-02', value: null}]);
        }""")
        assert NO_BILL in tip
        wide = page.evaluate("""() => Array.from(document.querySelectorAll('main *'))
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .map(e => e.tagName + '.' + e.className + ' ' + (e.innerText || '').slice(0, 30)).slice(0, 8)""")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), wide
        page.screenshot(path=str(shots / f"insights-no-bill-{width}.png"), full_page=True)
    finally:
        context.close()
    assert errors == []
