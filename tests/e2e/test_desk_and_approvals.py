"""Issue 17 items 5 and 6 in the browser, on a phone (375 × 812) and at a desk (1280 × 800): the approvals page
(select all, one reason, bulk approve) and the desk (payment form above the fold, pay in full, cash change,
the receipt). Screenshots go to $WUYE_SCREENSHOTS or var/e2e-artefacts/ for reviewers to look at."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.casework.test_approvals import queue  # noqa: F401  (the approvals fixture)
from wuye.accounts.choices import Role
from wuye.billing.models import Adjustment, InstallmentPlan, Payment
from wuye.billing.services import bill_generate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"phone": (375, 812), "desk": (1280, 800)}



def _context(browser, size: str):
    w, h = SIZES[size]
    extra = {"is_mobile": True, "has_touch": True} if size == "phone" else {}
    context = browser.new_context(locale="zh-CN", viewport={"width": w, "height": h}, **extra)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def _login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("pw-12345678")
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    assert "/login/" not in page.url


def _fits(page) -> None:
    """No horizontal scroll, and every control of the page's own content at least 44 px to tap."""
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    small = page.evaluate("""() => Array.from(document.querySelectorAll(
        'main .btn-tap, main .tap-check, main [data-testid=desk-payment] .form-control, main [data-testid=desk-payment] .form-select'))
        .filter(e => e.offsetParent !== null)
        .map(e => { const r = e.getBoundingClientRect(); return [e.outerHTML.slice(0, 80), r.width, r.height]; })
        .filter(([_, w, h]) => w < 44 || h < 44)""")
    assert small == [], small


@pytest.mark.parametrize("size", ["phone", "desk"])
def test_the_manager_approves_in_bulk_with_one_reason(browser, live_server, alice, queue, shots, size):  # noqa: F811
    context, page = _context(browser, size)
    try:
        _login(page, live_server, "alice")
        page.goto(f"{live_server.url}/casework/desk/approvals/")
        assert page.get_by_test_id("referral-group").count() == 2
        _fits(page)
        page.screenshot(path=str(shots / f"approvals-{size}.png"), full_page=True)
        # only the waivers and plans: filter by kind, select all on the page, one reason, approve
        page.get_by_label("类型").select_option("waive_principal")
        page.get_by_role("button", name="筛选").click()
        page.wait_for_load_state()
        assert page.locator("input[name=items]").count() == 2
        page.get_by_test_id("select-page").check()  # in the bar under the list: there on a phone too
        assert page.get_by_test_id("selected-count").inner_text() == "已选 2 项"
        page.get_by_label("审批意见").fill("电梯停运属实")
        page.get_by_test_id("bulk-approve").click()
        page.get_by_text("已批准：减免/作废/核销 2 项。").wait_for()
        _fits(page)
        page.screenshot(path=str(shots / f"approvals-after-{size}.png"), full_page=True)
        assert set(Adjustment.objects.values_list("status", flat=True)) == {"approved"}
        assert InstallmentPlan.objects.get().status == "pending"  # the filter kept it out
    finally:
        context.close()


@pytest.mark.parametrize("size", ["phone", "desk"])
def test_the_desk_takes_cash_in_full_and_gives_change(browser, live_server, make_user, alice, billed_estate,
                                                      shots, size):
    make_user("fiona", Role.FINANCE)
    for month in (3, 4, 5):
        bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, month, 1))
    unit = billed_estate["units"][0]
    context, page = _context(browser, size)
    try:
        _login(page, live_server, "fiona")
        page.goto(f"{live_server.url}/billing/units/{unit.pk}/")
        form = page.get_by_test_id("desk-payment")
        amount = form.get_by_label("金额（元）")
        box = amount.bounding_box()
        assert box["y"] + box["height"] <= SIZES[size][1]  # above the fold
        _fits(page)
        page.screenshot(path=str(shots / f"desk-{size}.png"), full_page=False)
        form.get_by_test_id("pay-in-full").click()
        assert amount.input_value() == "537.00"
        form.get_by_label("收到现金（元）").fill("600")
        assert form.get_by_test_id("change").inner_text() == "¥63.00"
        form.get_by_label("收到现金（元）").fill("500")
        assert form.get_by_test_id("change").inner_text() == "不足 ¥37.00"
        form.get_by_role("button", name="确认收款").click()  # the server refuses it next to the field
        page.get_by_test_id("error-tendered").wait_for()
        assert Payment.objects.count() == 0
        page.screenshot(path=str(shots / f"desk-error-{size}.png"), full_page=False)
        form = page.get_by_test_id("desk-payment")
        form.get_by_test_id("pay-in-full").click()
        form.get_by_label("收到现金（元）").fill("600")
        form.get_by_role("button", name="确认收款").click()
        page.get_by_test_id("last-change").wait_for()
        assert page.get_by_test_id("last-change").inner_text() == "¥63.00"
        _fits(page)
        page.screenshot(path=str(shots / f"desk-paid-{size}.png"), full_page=False)
        with page.expect_popup() as popup:
            page.get_by_role("link", name="收据（A4）").click()
        receipt = popup.value
        receipt.wait_for_load_state()
        assert "2026-03～05" in receipt.content() and receipt.get_by_test_id("receipt-change").inner_text() == "¥63.00"
        assert receipt.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        receipt.screenshot(path=str(shots / f"receipt-{size}.png"), full_page=True)
        assert Payment.objects.get().tendered_fen == 60_000
    finally:
        context.close()
