"""The collector's morning on a phone (375×812): open the worklist, record a promise, see the class change."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.e2e.conftest import artefacts_dir
from wuye.dunning.dispatch import dispatch
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, Episode, Hold, Task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_collector_records_a_promise_from_the_worklist_on_a_phone(browser, live_server, arrears_estate,
                                                                     bob_territory, tmp_path, settings):
    shots = artefacts_dir()
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    today = timezone.localdate()
    # the engine's last working day (calls are decided and handed out on working days; the page is today's)
    from wuye.dunning.calendar import Calendar

    day, cal = today, Calendar()
    while not cal.is_working_day(day):
        day -= dt.timedelta(days=1)
    dunning_run(as_of=day)
    dispatch(now=dt.datetime.combine(day, dt.time(10), tzinfo=ZoneInfo("Asia/Shanghai")))
    unit = arrears_estate["units"][0]
    task = (Task.objects.filter(unit=unit, status="open", assigned_to=bob_territory, kind__in=["call", "visit"])
            .order_by("due_on", "pk").first())
    assert task is not None  # the engine gave bob a call or visit on this account today
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("用户名").fill("bob")
        page.get_by_label("密码").fill("pw-12345678")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r"/$"))
        page.goto(f"{live_server.url}/casework/")
        card = page.get_by_test_id(f"row-{unit.code}")
        card.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
        page.screenshot(path=str(shots / "casework-worklist-375.png"), full_page=False)
        next_before = card.get_by_test_id(f"next-{unit.code}").inner_text()
        assert next_before.startswith("下一步：今天：")
        card.get_by_test_id(f"call-{unit.code}").click()  # tap to call: reveals the number (logged)
        card.get_by_test_id("revealed").wait_for()
        card.get_by_test_id(f"promise-{unit.code}").click()
        promised_on = today + dt.timedelta(days=7)
        # the form shows what a promise needs, not the refusal or installment fields
        page.wait_for_load_state("load")
        page.get_by_label("拒交/争议原因").wait_for(state="hidden")
        assert page.get_by_label("承诺缴费日期").is_visible() and page.get_by_label("承诺金额（元）").is_visible()
        assert page.get_by_label("分期数").is_hidden()
        page.get_by_label("承诺缴费日期").fill(promised_on.isoformat())
        page.get_by_label("承诺金额（元）").fill("179.00")
        page.get_by_label("备注").fill("业主说下周发工资后缴")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(shots / "casework-contact-form-375.png"), full_page=True)
        page.get_by_test_id("save-contact").click()
        page.wait_for_url(re.compile(r"/casework/"))
        card = page.get_by_test_id(f"row-{unit.code}")
        assert card.get_by_test_id(f"class-{unit.code}").inner_text() == "近期交纳"
        remind = promised_on - dt.timedelta(days=1)
        next_after = card.get_by_test_id(f"next-{unit.code}").inner_text()
        assert next_after == f"下一步：{remind.month}月{remind.day}日 承诺前一天提醒" != next_before
        card.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "casework-after-promise-375.png"), full_page=False)
        assert failed == []
    finally:
        context.close()
    assert Episode.objects.get(unit=unit, closed_on__isnull=True).account_class == "promised"
    task.refresh_from_db()
    assert task.status == "done"  # the task the promise answered is closed
    hold = Hold.objects.get(unit=unit, kind="promise")
    assert hold.until == promised_on and hold.amount_fen == 17_900
    # the next task changes: the engine reminds the day before the promised date
    dunning_run(as_of=promised_on - dt.timedelta(days=1))
    assert Action.objects.filter(unit=unit, step__name="承诺前一天提醒").exists()
    assert (shots / "casework-worklist-375.png").stat().st_size > 0


def _login(page, live_server):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("bob")
    page.get_by_label("密码").fill("pw-12345678")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/$"))


def _codes(page) -> set[str]:
    return set(page.locator("[data-testid^='row-']").evaluate_all(
        "els => els.map(e => e.dataset.testid.slice(4))"))


@pytest.mark.parametrize("width,height", [(375, 812), (1280, 800)])
def test_the_worklist_filters_by_floor_class_and_amount_and_the_form_fits(browser, live_server, arrears_estate,
                                                                         bob_territory, tmp_path, width, height):
    from wuye.casework import services

    shots = artefacts_dir()
    today = timezone.localdate()
    dunning_run(as_of=today)
    units = arrears_estate["units"][:12]  # building 1: bob's
    services.contact_record(actor=bob_territory, unit=units[7], channel="call", outcome="busy")
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height},
                                  is_mobile=width < 600, has_touch=width < 600)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        _login(page, live_server)
        page.goto(f"{live_server.url}/casework/")
        assert _codes(page) == {u.code for u in units}
        page.get_by_text("筛选", exact=True).first.click()  # the filters fold away on a phone
        building = page.get_by_label("楼栋")
        assert building.locator("option").count() == 2  # all, and bob's one building
        building.select_option(index=1)
        page.get_by_label("起始楼层").fill("3")
        page.get_by_label("结束楼层").fill("4")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(shots / f"casework-worklist-filter-{width}.png"), full_page=False)
        page.get_by_test_id("worklist-filter").get_by_role("button", name="筛选").click()
        page.wait_for_url(re.compile(r"floor_from=3"))
        assert _codes(page) == {u.code for u in units if u.floor in (3, 4)}
        page.goto(f"{live_server.url}/casework/")
        page.get_by_text("筛选", exact=True).first.click()
        page.get_by_label("分类").select_option("undecided")
        page.get_by_test_id("worklist-filter").get_by_role("button", name="筛选").click()
        page.wait_for_url(re.compile(r"account_class=undecided"))
        assert _codes(page) == {units[7].code}
        page.goto(f"{live_server.url}/casework/")
        page.get_by_text("筛选", exact=True).first.click()
        page.get_by_label("欠费至少（元）").fill("100000")
        page.get_by_test_id("worklist-filter").get_by_role("button", name="筛选").click()
        page.wait_for_url(re.compile(r"min_fen=100000"))
        assert _codes(page) == set() and page.get_by_text("今天没有需要跟进的欠费户。").is_visible()
        page.goto(f"{live_server.url}/casework/?min_fen=abc")  # a typed-in address: named in Chinese
        assert "欠费至少（元）" in page.locator(".alert-danger").first.inner_text()
        # the worklist and the contact form at this width
        page.goto(f"{live_server.url}/casework/")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(shots / f"casework-worklist-{width}.png"), full_page=False)
        page.goto(f"{live_server.url}/casework/units/{units[7].pk}/contact/")
        page.get_by_label("拒交/争议原因").wait_for(state="hidden")  # no outcome chosen yet
        page.get_by_label("联系结果").select_option("refused")
        assert page.get_by_label("拒交/争议原因").is_visible() and page.get_by_label("承诺缴费日期").is_hidden()
        assert page.get_by_label("属开发商保修").is_visible()
        bills = page.get_by_test_id("dispute-bills")  # the debtor's open lines, to tick the disputed ones
        assert bills.is_visible() and bills.locator("input[type=checkbox]").count() >= 1
        if width < 768:
            assert all(label.bounding_box()["height"] >= 44 for label in bills.locator("label").all())
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(shots / f"casework-contact-refused-{width}.png"), full_page=True)
    finally:
        context.close()
