"""An owner on a phone (375 × 812): opens the link, sees the bill, pays by WeChat (the order goes to a local
stand-in of the WeChat Pay API), the notification arrives, the page shows the receipt. A tampered or expired
link shows a clear page and nothing of the unit."""

from __future__ import annotations

import base64
import datetime as dt
import re
import urllib.parse

import pytest
import requests
from django.utils import timezone

# the portal's fixtures (keys made in the test, the local WeChat Pay API, a pay link); the browser is e2e's
from tests.portal.conftest import (  # noqa: F401
    MP_APPID,
    _no_proxy,
    keys,
    link,
    wechat,
    wechat_mp,
    wechat_notification,
)
from wuye.billing.models import Payment
from wuye.portal.models import PayLink, PaymentOrder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


IPHONE_SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.5 Mobile/15E148 Safari/604.1")
WECHAT_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Mobile/15E148 MicroMessenger/8.0.49(0x18003137) NetType/WIFI Language/zh_CN")


def _phone(browser, user_agent: str | None = None):
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True,
                                  has_touch=True, **({"user_agent": user_agent} if user_agent else {}))
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


@pytest.fixture
def phone_page(browser):
    """A phone-sized page: 375 × 812 (Chromium's own user agent: a desktop browser, so WeChat's QR code)."""
    context, page = _phone(browser)
    yield page
    context.close()



def test_an_owner_pays_the_bill_from_the_link_on_a_phone(phone_page, live_server, wechat, keys, link,  # noqa: F811
                                                         shots):
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
    page.screenshot(path=str(shots / "portal-bill-375.png"), full_page=True)

    page.get_by_role("button", name="微信支付").click()
    page.get_by_test_id("pay-qr").wait_for()
    assert page.get_by_test_id("order-amount").inner_text() == owed
    page.screenshot(path=str(shots / "portal-order-qr-375.png"), full_page=True)
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
    page.screenshot(path=str(shots / "portal-paid-375.png"), full_page=True)
    receipt = status.get_by_role("link", name="下载收据")
    pdf = page.request.get(live_server.url + receipt.get_attribute("href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    with page.expect_navigation():  # content() read mid-navigation is empty (CI caught it once)
        page.get_by_role("link", name="返回账单").click()
    page.get_by_text("目前没有待缴费用").wait_for()
    assert page.get_by_test_id("history").get_by_role("link", name="收据").count() == 1
    assert failed == []

    tampered = link["token"][:-2] + ("zz" if not link["token"].endswith("zz") else "yy")
    response = page.goto(f"{live_server.url}/p/{tampered}/")
    assert response.status == 404 and "链接无效" in page.get_by_test_id("refused").inner_text()
    page.screenshot(path=str(shots / "portal-link-invalid-375.png"), full_page=True)
    assert "1-101" not in page.content() and "¥" not in page.content()
    PayLink.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = page.goto(f"{live_server.url}{link['url']}")
    assert response.status == 410 and "链接已失效" in page.content() and "1-101" not in page.content()
    page.screenshot(path=str(shots / "portal-link-expired-375.png"), full_page=True)


H5_URL = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2026e2e&package=1405458241"


def test_a_phone_browser_pays_by_wechat_h5_and_returns_to_the_receipt(browser, live_server, wechat, keys, link,  # noqa: F811
                                                                     settings, shots):
    """Safari on an iPhone: WeChat Pay is H5; the button goes to WeChat's h5_url carrying our return URL;
    WeChat (here: the test) sends the browser back there, and it lands on its order with the receipt."""
    settings.WUYE_PAY_NOTIFY_BASE = live_server.url
    wechat.answers["/v3/pay/transactions/h5"] = (200, {"h5_url": H5_URL})
    context, page = _phone(browser, IPHONE_SAFARI)
    try:
        page.goto(f"{live_server.url}{link['url']}")
        page.get_by_role("button", name="微信支付").click()
        button = page.get_by_test_id("pay-url")
        button.wait_for()
        order = PaymentOrder.objects.get()
        assert order.channel == "h5" and [r.path for r in wechat.requests] == ["/v3/pay/transactions/h5"]
        href = button.get_attribute("href")
        assert href.startswith(H5_URL + "&redirect_url=")
        return_url = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(href).query))["redirect_url"]
        assert return_url == f"{live_server.url}/p/return/{order.out_trade_no}/" and link["token"] not in href
        assert page.get_by_test_id("pay-qr").count() == 0 and "打开微信" in page.get_by_test_id("h5-hint").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(shots / "portal-order-h5-375.png"), full_page=True)

        headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
        answer = requests.post(f"{live_server.url}/api/v1/pay/wechat/notify/", data=body.encode(),
                               headers={**headers, "Content-Type": "application/json"}, timeout=10)
        assert answer.status_code == 200
        page.goto(return_url)  # where WeChat sends the browser after paying
        assert f"/orders/{order.out_trade_no}/" in page.url
        page.get_by_text("支付成功").wait_for()
        assert Payment.objects.get().receipt_no in page.get_by_test_id("order-status").inner_text()
        page.screenshot(path=str(shots / "portal-h5-returned-375.png"), full_page=True)
    finally:
        context.close()


def test_inside_wechat_the_qr_code_is_an_image_to_long_press(browser, live_server, wechat, keys, link,  # noqa: F811
                                                           shots):
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=E2eWx01"})
    context, page = _phone(browser, WECHAT_IPHONE)
    try:
        page.goto(f"{live_server.url}{link['url']}")
        page.get_by_role("button", name="微信支付").click()
        image = page.get_by_test_id("pay-qr").locator("img")
        image.wait_for()
        assert image.evaluate("i => i.complete && i.naturalWidth > 0")
        box = image.bounding_box()
        assert box["width"] == 220 and box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert "长按上方二维码" in page.get_by_test_id("qr-hint").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(shots / "portal-order-in-wechat-375.png"), full_page=True)
    finally:
        context.close()


# Inside WeChat the page may run before WeixinJSBridge exists; WeChat then fires WeixinJSBridgeReady. This
# stand-in does the same (a little after the page is ready), records every invoke and answers from a list.
FAKE_BRIDGE = """
window.__wxCalls = [];
window.__wxAnswers = ["get_brand_wcpay_request:cancel", "get_brand_wcpay_request:ok"];
document.addEventListener("DOMContentLoaded", function () {
  setTimeout(function () {
    window.WeixinJSBridge = {
      invoke: function (name, params, callback) {
        window.__wxCalls.push({name: name, params: JSON.parse(JSON.stringify(params))});
        var answer = window.__wxAnswers.shift() || "get_brand_wcpay_request:ok";
        setTimeout(function () { callback({err_msg: answer}); }, 150);
      }
    };
    document.dispatchEvent(new Event("WeixinJSBridgeReady"));
  }, 300);
});
"""


def test_inside_wechat_an_owner_pays_by_jsapi_and_sees_the_receipt(
        browser, live_server, wechat_mp, wechat, keys, link, settings, shots):  # noqa: F811
    """微信内支付: the tap goes through the (local) silent 网页授权 and back, the JSAPI order is placed, the page
    calls the bridge with parameters signed by the merchant key; the owner cancels once (message, QR fallback
    offered), pays on the second tap, and the page shows the receipt once the notification has arrived."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    settings.WUYE_PAY_NOTIFY_BASE = live_server.url
    wechat.answers["/v3/pay/transactions/jsapi"] = (200, {"prepay_id": "wx2026e2eJsapi0001"})
    context, page = _phone(browser, WECHAT_IPHONE)
    context.add_init_script(FAKE_BRIDGE)
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    try:
        page.goto(f"{live_server.url}{link['url']}")
        owed = page.get_by_test_id("open-amount").inner_text()
        page.get_by_role("button", name="微信支付").click()
        page.get_by_test_id("jsapi-cancel").wait_for(state="visible")
        assert [r["path"] for r in wechat_mp.requests] == ["/connect/oauth2/authorize", "/sns/oauth2/access_token"]
        order = PaymentOrder.objects.get()
        assert order.channel == "jsapi" and [r.path for r in wechat.requests] == ["/v3/pay/transactions/jsapi"]
        assert page.get_by_test_id("order-amount").inner_text() == owed

        [call] = page.evaluate("window.__wxCalls")
        params = call["params"]
        assert call["name"] == "getBrandWCPayRequest" and params["appId"] == MP_APPID
        assert params["package"] == "prepay_id=wx2026e2eJsapi0001" and params["signType"] == "RSA"
        message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
        keys.merchant.public_key().verify(base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(),
                                          hashes.SHA256())
        assert "已取消支付" in page.get_by_test_id("jsapi-cancel").inner_text()
        assert page.get_by_role("button", name="改用二维码支付").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(shots / "portal-jsapi-cancelled-375.png"), full_page=True)

        page.get_by_test_id("jsapi-pay").click()  # the second tap: WeChat (the stand-in) says ok
        page.wait_for_url(re.compile(r"\?wx=ok$"))
        assert "正在确认到账" in page.get_by_test_id("jsapi-ok").inner_text()
        assert Payment.objects.count() == 0  # the bridge's ok is no money; the notification is
        page.screenshot(path=str(shots / "portal-jsapi-confirming-375.png"), full_page=True)

        headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen,
                                            appid=MP_APPID, trade_type="JSAPI")
        answer = requests.post(f"{live_server.url}/api/v1/pay/wechat/notify/", data=body.encode(),
                               headers={**headers, "Content-Type": "application/json"}, timeout=10)
        assert answer.status_code == 200 and answer.json() == {"code": "SUCCESS", "message": "成功"}
        page.get_by_text("支付成功").wait_for(timeout=10_000)  # the page polls every 3 seconds
        assert Payment.objects.get().receipt_no in page.get_by_test_id("order-status").inner_text()
        page.screenshot(path=str(shots / "portal-jsapi-paid-375.png"), full_page=True)
        assert failed == []
    finally:
        context.close()


def test_inside_wechat_without_an_openid_the_owner_gets_the_qr_code_and_a_message(
        browser, live_server, wechat_mp, wechat, keys, link, settings, shots):  # noqa: F811
    settings.WUYE_PAY_NOTIFY_BASE = live_server.url
    wechat_mp.next_code = "CODE_EXPIRED"  # WeChat's token endpoint answers 40029 invalid code
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=E2eWx02"})
    context, page = _phone(browser, WECHAT_IPHONE)
    context.add_init_script(FAKE_BRIDGE)
    try:
        page.goto(f"{live_server.url}{link['url']}")
        page.get_by_role("button", name="微信支付").click()
        page.get_by_test_id("pay-qr").locator("img").wait_for()
        assert "未能取得微信授权" in page.get_by_role("alert").first.inner_text()
        assert PaymentOrder.objects.get().channel == "native" and page.evaluate("window.__wxCalls.length") == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(shots / "portal-jsapi-oauth-failed-375.png"), full_page=True)
    finally:
        context.close()
