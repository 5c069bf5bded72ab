"""An owner on a phone (375 × 812): opens the link, sees the bill, pays by WeChat (the order goes to a local
stand-in of the WeChat Pay API), the notification arrives, the page shows the receipt. A tampered or expired
link shows a clear page and nothing of the unit."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from django.utils import timezone

# the portal's fixtures (keys made in the test, the local WeChat Pay API, a pay link); the browser is e2e's
from tests.portal.conftest import _no_proxy, keys, link, wechat, wechat_notification  # noqa: F401
from wuye.billing.models import Payment
from wuye.portal.models import PayLink, PaymentOrder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone_page(browser):
    """A phone-sized page: 375 × 812."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_an_owner_pays_the_bill_from_the_link_on_a_phone(phone_page, live_server, wechat, keys, link):  # noqa: F811
    page = phone_page
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=E2e0001"})
    page.goto(f"{live_server.url}{link['url']}")
    summary = page.get_by_test_id("summary")
    assert "1-101" in summary.inner_text() and "138****0001" in summary.inner_text()
    owed = page.get_by_test_id("open-amount").inner_text()
    assert owed.startswith("¥")
    assert "违约金计至今日" in page.get_by_test_id("late-fee").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than the phone
    page.get_by_text("违约金是怎么算的").wait_for()

    page.get_by_role("button", name="微信支付").click()
    page.get_by_test_id("pay-qr").wait_for()
    assert page.get_by_test_id("order-amount").inner_text() == owed
    order = PaymentOrder.objects.get()
    assert [r.path for r in wechat.requests] == ["/v3/pay/transactions/native"]

    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    answer = requests.post(f"{live_server.url}/api/v1/pay/wechat/notify/", data=body.encode(),
                           headers={**headers, "Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"code": "SUCCESS", "message": "成功"}

    status = page.get_by_test_id("order-status")
    page.get_by_text("支付成功").wait_for(timeout=10_000)  # the page polls every 3 seconds
    payment = Payment.objects.get()
    assert payment.receipt_no in status.inner_text()
    receipt = status.get_by_role("link", name="下载收据")
    pdf = page.request.get(live_server.url + receipt.get_attribute("href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    page.get_by_role("link", name="返回账单").click()
    assert "目前没有待缴费用" in page.content()
    assert page.get_by_test_id("history").get_by_role("link", name="收据").count() == 1
    assert failed == []

    tampered = link["token"][:-2] + ("zz" if not link["token"].endswith("zz") else "yy")
    response = page.goto(f"{live_server.url}/p/{tampered}/")
    assert response.status == 404 and "链接无效" in page.get_by_test_id("refused").inner_text()
    assert "1-101" not in page.content() and "¥" not in page.content()
    PayLink.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = page.goto(f"{live_server.url}{link['url']}")
    assert response.status == 410 and "链接已失效" in page.content() and "1-101" not in page.content()
