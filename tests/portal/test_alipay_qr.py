"""Alipay 当面付 (``alipay.trade.precreate``): the portal asks a local gateway — which checks the SDK's real RSA2
signature — for a QR code, shows it on the order page, and the order is settled by the notification or by the
order-query job."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse

import pytest
from django.utils import timezone

from tests.portal.conftest import ALIPAY_APPID, alipay_notification, new_key, order_for
from wuye.billing.models import Payment
from wuye.portal.choices import OrderStatus
from wuye.portal.models import PaymentOrder
from wuye.portal.providers import ProviderError, yuan_text
from wuye.portal.qr import qr_svg

pytestmark = pytest.mark.django_db

QR = "https://qr.alipay.com/bax03431ljhokirwl38f00a7"


def _precreate_ok(gateway, out_trade_no="*"):
    gateway.answers["alipay.trade.precreate"] = {"code": "10000", "msg": "Success", "out_trade_no": out_trade_no,
                                                 "qr_code": QR}


def _answer_for(gateway):
    """Echo the out_trade_no the request carries (the gateway answers after the order row exists)."""
    original = gateway.verify

    def verify(params):
        ok = original(params)
        biz = json.loads(params.get("biz_content", "{}"))
        if ok and params.get("method") == "alipay.trade.precreate":
            _precreate_ok(gateway, biz["out_trade_no"])
        return ok

    gateway.verify = verify


def test_the_portal_gets_a_qr_code_from_a_signed_precreate(alipay_gateway, link, settings):
    _answer_for(alipay_gateway)
    order = order_for(link, provider="alipay", channel="native")
    assert (order.channel, order.code_url, order.pay_url, order.status) == ("native", QR, "", OrderStatus.CREATED)
    [sent] = alipay_gateway.requests
    assert sent["_verified"] is True  # the gateway checked our RSA2 signature with our app's public key
    assert (sent["method"], sent["app_id"], sent["sign_type"]) == ("alipay.trade.precreate", ALIPAY_APPID, "RSA2")
    assert sent["notify_url"].endswith("/api/v1/pay/alipay/notify/")
    biz = json.loads(sent["biz_content"])
    assert biz["out_trade_no"] == order.out_trade_no and biz["total_amount"] == yuan_text(order.amount_fen)
    ttl = settings.WUYE_PAY_ORDER_TTL_MINUTES  # the QR code lapses with the order
    assert biz["timeout_express"] in (f"{ttl}m", f"{ttl - 1}m")
    # a second tap on the same choice reuses the order: no second precreate
    assert order_for(link, provider="alipay", channel="native").pk == order.pk and len(alipay_gateway.requests) == 1


def test_the_pay_page_shows_the_qr_code_and_the_notification_settles_it(client, alipay_gateway, keys, link):
    _answer_for(alipay_gateway)
    bill = client.get(link["url"]).content.decode()
    assert 'value="alipay:native"' in bill and 'data-testid="pay-alipay-qr"' in bill
    response = client.post(f"{link['url']}pay/", {"pay": "alipay:native"})
    order = PaymentOrder.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{link['url']}orders/{order.out_trade_no}/"
    page = client.get(response["Location"]).content.decode()
    assert qr_svg(QR) in page and 'data-testid="pay-qr"' in page and "支付宝" in page and "扫一扫" in page
    assert "微信" not in page.split('data-testid="qr-hint"')[1].split("</p>")[0]

    params = alipay_notification(keys, out_trade_no=order.out_trade_no, amount=yuan_text(order.amount_fen))
    body = urllib.parse.urlencode(params)
    answer = client.post("/api/v1/pay/alipay/notify/", body,
                         content_type="application/x-www-form-urlencoded; charset=utf-8")
    assert answer.content == b"success"
    order.refresh_from_db()
    payment = Payment.objects.get()
    assert order.status == OrderStatus.PAID and order.payment == payment
    assert (payment.method, payment.reference, payment.amount_fen) == ("alipay", params["trade_no"], order.amount_fen)


def test_the_order_query_job_settles_a_qr_order_without_a_notification(alipay_gateway, link, settings):
    _answer_for(alipay_gateway)
    order = order_for(link, provider="alipay", channel="native")
    alipay_gateway.answers["alipay.trade.query"] = {
        "code": "10000", "msg": "Success", "out_trade_no": order.out_trade_no, "trade_no": "2026112322001400001",
        "trade_status": "TRADE_SUCCESS", "total_amount": yuan_text(order.amount_fen),
        "send_pay_date": "2026-11-23 10:00:05"}
    from wuye.portal.services import orders_query_waiting

    later = timezone.now() + dt.timedelta(minutes=settings.WUYE_PAY_QUERY_AFTER_MINUTES + 1)
    assert orders_query_waiting(now=later)["paid"] == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.payment.reference == "2026112322001400001"
    assert alipay_gateway.requests[-1]["method"] == "alipay.trade.query" and alipay_gateway.requests[-1]["_verified"]


def test_a_request_signed_with_the_wrong_key_is_refused_by_the_gateway(alipay_gateway, link, keys, settings, tmp_path):
    from tests.portal.conftest import _pem_private

    wrong = tmp_path / "wrong.pem"
    wrong.write_text(_pem_private(new_key()))
    settings.ALIPAY_PRIVATE_KEY_FILE = str(wrong)
    _answer_for(alipay_gateway)
    with pytest.raises(ProviderError, match="验签出错"):
        order_for(link, provider="alipay", channel="native")
    assert alipay_gateway.requests[0]["_verified"] is False
    order = PaymentOrder.objects.get()
    assert order.status == OrderStatus.CLOSED and order.code_url == "" and order.park_reason == "下单失败"


def test_an_answer_not_signed_by_alipay_gives_no_qr_code(client, alipay_gateway, link):
    _answer_for(alipay_gateway)
    alipay_gateway.signer = new_key()  # someone in the middle
    page = client.post(f"{link['url']}pay/", {"pay": "alipay:native"}, follow=True).content.decode()
    assert "未能发起支付：支付宝应答验签失败，未生成二维码" in page
    assert PaymentOrder.objects.get().status == OrderStatus.CLOSED and QR not in page


def test_a_business_refusal_is_shown_in_chinese(client, alipay_gateway, link):
    alipay_gateway.answers["alipay.trade.precreate"] = {"code": "40004", "msg": "Business Failed",
                                                        "sub_code": "ACQ.TOTAL_FEE_EXCEED", "sub_msg": "订单金额超过限额"}
    page = client.post(f"{link['url']}pay/", {"pay": "alipay:native"}, follow=True).content.decode()
    assert "未能发起支付：支付宝拒绝了请求：订单金额超过限额" in page
    assert Payment.objects.count() == 0


def test_an_order_page_opened_again_draws_no_new_code():
    """Drawing a code tries all eight masks (5–9 ms of pure Python): the same text is drawn once per process."""
    from wuye.portal.qr import qr_png_data_uri, qr_svg

    text = "https://qr.alipay.com/bax-cache-test"
    before = qr_svg.cache_info().hits
    assert qr_svg(text) is qr_svg(text)
    assert qr_svg.cache_info().hits == before + 1
    assert qr_png_data_uri(text) is qr_png_data_uri(text)
    assert qr_svg(text + "x") != qr_svg(text)
