import datetime as dt
import re

import pytest

from tests.e2e.test_collector_territory import _login
from wuye.accounts.choices import Role
from wuye.billing.services import bill_generate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_finance_takes_a_payment_prints_the_receipt_and_sees_the_allocation(
        page, live_server, make_user, alice, billed_estate):
    make_user("fiona", Role.FINANCE)
    for month in (3, 4, 5):
        bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, month, 1))
    unit = billed_estate["units"][0]
    _login(page, live_server, "fiona")
    page.goto(f"{live_server.url}/estate/units/{unit.pk}/")
    page.get_by_test_id("to-statement").click()
    assert page.get_by_test_id("open").inner_text() == "¥537.00"

    form = page.get_by_test_id("desk-payment")
    form.get_by_label("金额（元）").fill("400.00")
    form.get_by_label("方式").select_option("cash")
    form.get_by_label("付款人").fill("业主001")
    form.get_by_role("button", name="确认收款").click()
    page.get_by_text("已收款，收据号").wait_for()

    # oldest first: March and April paid, May partly
    rows = page.get_by_test_id("statement-lines")
    assert rows.locator("tr[data-period='2026-03'] [data-testid=open-line]").inner_text() == "¥0.00"
    assert rows.locator("tr[data-period='2026-04'] [data-testid=open-line]").inner_text() == "¥0.00"
    assert rows.locator("tr[data-period='2026-05'] [data-testid=open-line]").inner_text() == "¥137.00"

    with page.expect_popup() as popup:
        page.get_by_role("link", name=re.compile(r"^T1-\d{4}-000001$")).click()
    receipt = popup.value
    receipt.wait_for_load_state()
    assert receipt.get_by_test_id("receipt-amount").inner_text() == "¥400.00"
    assert "人民币肆佰元整" in receipt.content()
    # the printable receipt renders to an A4 PDF in the real browser
    assert receipt.pdf(format="A4")[:4] == b"%PDF"
