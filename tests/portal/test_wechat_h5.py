"""WeChat Pay by browser: H5 (``h5_url``) from a mobile browser outside WeChat, the Native QR code on a
desktop, and inside WeChat the QR code as an image to long-press (without a service account; with one, JSAPI:
test_wechat_jsapi.py).
The orders go to the local WeChat Pay API of the portal's conftest; nothing leaves the machine."""

from __future__ import annotations

import base64
import io
import json
import re
import urllib.parse

import pytest

from wuye.billing.models import Payment
from wuye.portal.choices import Channel, OrderStatus
from wuye.portal.models import PaymentOrder
from wuye.portal.services import wechat_channel_for

from .conftest import post_wechat, wechat_notification

IPHONE_SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.5 Mobile/15E148 Safari/604.1")
ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 14; 23127PN0CC) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Mobile Safari/537.36")
HARMONY = ("Mozilla/5.0 (Phone; OpenHarmony 4.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 "
           "Safari/537.36 ArkWeb/4.1.6.1 Mobile HuaweiBrowser/5.0.4.300")
WECHAT_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Mobile/15E148 MicroMessenger/8.0.49(0x18003137) NetType/WIFI Language/zh_CN")
WECHAT_ANDROID = ("Mozilla/5.0 (Linux; Android 14; V2307A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
                  "Chrome/122.0.6261.120 Mobile Safari/537.36 XWEB/1220133 MMWEBSDK/20240404 MicroMessenger/8.0.49")
WECHAT_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0 "
                  "Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) WindowsWechat(0x63090a13)")
DESKTOP_CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Safari/537.36")
H5_URL = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2016121516420242444321ca0631331346&package=1405458241"
CODE_URL = "weixin://wxpay/bizpayurl?pr=H5Test01"


@pytest.mark.parametrize(("agent", "channel"), [
    (IPHONE_SAFARI, Channel.H5), (ANDROID_CHROME, Channel.H5), (HARMONY, Channel.H5),
    (WECHAT_IPHONE, Channel.NATIVE), (WECHAT_ANDROID, Channel.NATIVE), (WECHAT_WINDOWS, Channel.NATIVE),
    (DESKTOP_CHROME, Channel.NATIVE), ("", Channel.NATIVE),
])
def test_it_chooses_h5_only_for_mobile_browsers_outside_wechat(agent, channel):
    assert wechat_channel_for(agent) == channel


def _answers(wechat):
    wechat.answers["/v3/pay/transactions/h5"] = (200, {"h5_url": H5_URL})
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": CODE_URL})


def test_a_mobile_browser_pays_by_h5_and_comes_back_to_its_order(client, wechat, keys, link, settings):
    settings.WUYE_PAY_NOTIFY_BASE = "https://wuye.example.cn"
    _answers(wechat)
    response = client.post(f"/p/{link['token']}/pay/", {"provider": "wechat"}, HTTP_USER_AGENT=ANDROID_CHROME,
                           REMOTE_ADDR="203.0.113.7")
    order = PaymentOrder.objects.get()
    assert order.channel == Channel.H5 and response.status_code == 302
    [sent] = wechat.requests
    assert sent.path == "/v3/pay/transactions/h5"
    body = json.loads(sent.body)
    assert body["scene_info"] == {"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}}
    assert body["amount"] == {"total": order.amount_fen, "currency": "CNY"}

    # the pay URL is WeChat's h5_url with our return URL (naming only the order, no link token) appended
    return_url = f"https://wuye.example.cn/p/return/{order.out_trade_no}/"
    assert order.pay_url == H5_URL + "&redirect_url=" + urllib.parse.quote(return_url, safe="")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(order.pay_url).query))
    assert query["redirect_url"] == return_url and query["prepay_id"].startswith("wx2016")
    assert link["token"] not in order.pay_url
    page = client.get(response["Location"], HTTP_USER_AGENT=ANDROID_CHROME).content.decode()
    href = re.search(r'href="([^"]+)"[^>]*data-testid="pay-url"', page).group(1)
    assert href.replace("&amp;", "&") == order.pay_url
    assert "手机网页支付" in page and 'data-testid="h5-hint"' in page and "<svg" not in page

    # WeChat sends the browser back before (or without) the notification: still waiting
    back = client.get(f"/p/return/{order.out_trade_no}/")
    assert back.status_code == 302 and back["Location"] == response["Location"]
    assert "等待支付" in client.get(back["Location"]).content.decode()
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    assert post_wechat(client, headers, body).status_code == 200
    page = client.get(client.get(f"/p/return/{order.out_trade_no}/")["Location"]).content.decode()
    payment = Payment.objects.get()
    assert "支付成功" in page and payment.receipt_no in page and "下载收据" in page


def test_the_return_page_tells_a_stranger_nothing_but_paid_or_not(client, wechat, keys, link):
    _answers(wechat)
    client.post(f"/p/{link['token']}/pay/", {"provider": "wechat"}, HTTP_USER_AGENT=IPHONE_SAFARI)
    order = PaymentOrder.objects.get()
    from django.test import Client

    stranger = Client().get(f"/p/return/{order.out_trade_no}/")
    text = stranger.content.decode()
    assert stranger.status_code == 200 and "正在确认支付结果" in text
    assert link["unit"].code not in text and "业主" not in text and str(order.amount_fen // 100) not in text


def test_a_revoked_link_does_not_lead_back_from_the_return_page(client, wechat, keys, link, alice):
    from wuye.portal.links import link_revoke

    _answers(wechat)
    client.post(f"/p/{link['token']}/pay/", {"provider": "wechat"}, HTTP_USER_AGENT=IPHONE_SAFARI)
    order = PaymentOrder.objects.get()
    link_revoke(actor=alice, link=link["row"], reason="测试")
    back = client.get(f"/p/return/{order.out_trade_no}/")
    assert back.status_code == 200 and link["unit"].code not in back.content.decode()


def test_inside_wechat_it_shows_the_qr_code_as_an_image_to_long_press(client, wechat, keys, link):
    import zxingcpp
    from PIL import Image

    _answers(wechat)
    response = client.post(f"/p/{link['token']}/pay/", {"provider": "wechat"}, HTTP_USER_AGENT=WECHAT_IPHONE)
    order = PaymentOrder.objects.get()
    assert order.channel == Channel.NATIVE and [r.path for r in wechat.requests] == ["/v3/pay/transactions/native"]
    page = client.get(response["Location"], HTTP_USER_AGENT=WECHAT_IPHONE).content.decode()
    assert "长按上方二维码" in page and "识别图中的二维码" in page
    data = re.search(r'<img src="data:image/png;base64,([^"]+)"', page).group(1)
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(base64.b64decode(data))))
    assert code.text == CODE_URL  # the image scans to WeChat's code_url


def test_a_desktop_browser_gets_the_native_qr_code(client, wechat, keys, link):
    _answers(wechat)
    response = client.post(f"/p/{link['token']}/pay/", {"provider": "wechat"}, HTTP_USER_AGENT=DESKTOP_CHROME)
    order = PaymentOrder.objects.get()
    assert order.channel == Channel.NATIVE and order.status == OrderStatus.CREATED
    page = client.get(response["Location"], HTTP_USER_AGENT=DESKTOP_CHROME).content.decode()
    assert "<svg" in page and "微信“扫一扫”" in page and "长按" not in page


def test_an_h5_answer_without_h5_url_closes_the_order_with_a_message(client, wechat, link):
    wechat.answers["/v3/pay/transactions/h5"] = (200, {})
    response = client.post(f"/p/{link['token']}/pay/", {"provider": "wechat"}, HTTP_USER_AGENT=IPHONE_SAFARI,
                           follow=True)
    assert "微信支付没有返回支付信息" in response.content.decode()
    assert PaymentOrder.objects.get().status == OrderStatus.CLOSED and Payment.objects.count() == 0


def test_behind_the_trusted_proxy_the_payer_ip_is_the_browsers_not_the_proxys(client, wechat, keys, link,
                                                                              settings):
    """Issue 14 item 6: behind the company's reverse proxy WeChat gets the owner's address (from
    X-Forwarded-For, believed only from WUYE_TRUSTED_PROXIES), not the proxy's."""
    settings.WUYE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    _answers(wechat)
    client.post(f"/p/{link['token']}/pay/", {"provider": "wechat"}, HTTP_USER_AGENT=ANDROID_CHROME,
                REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    [sent] = wechat.requests
    assert json.loads(sent.body)["scene_info"]["payer_client_ip"] == "203.0.113.9"
