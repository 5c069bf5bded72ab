"""An order-query answer whose signature is not the provider's is a verification failure, not a network
problem: nothing is posted or closed, finance sees it parked at the top of the payments page (once per order),
operations get an error in the log. Forged answers come from the local gateways of the portal's conftest,
signed by the SDKs' own code with a key that is not the provider's."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.utils import timezone

from wuye.billing.models import Payment
from wuye.portal import providers
from wuye.portal.choices import NotificationResult, OrderStatus
from wuye.portal.models import PaymentNotification
from wuye.portal.providers import yuan_text
from wuye.portal.services import orders_query_waiting

from .conftest import APPID, MCHID, new_key, order_for

QR = "https://qr.alipay.com/bax00000000000000000"


def _later(settings):
    return timezone.now() + dt.timedelta(minutes=settings.WUYE_PAY_QUERY_AFTER_MINUTES + 1)


def _alipay_paid_answer(gateway, order):
    gateway.answers["alipay.trade.query"] = {
        "code": "10000", "msg": "Success", "out_trade_no": order.out_trade_no, "trade_no": "2026112322001499999",
        "trade_status": "TRADE_SUCCESS", "total_amount": yuan_text(order.amount_fen),
        "send_pay_date": "2026-11-23 10:00:05"}


@pytest.fixture
def alipay_order(alipay_gateway, link):
    alipay_gateway.answers["alipay.trade.precreate"] = {"code": "10000", "msg": "Success", "qr_code": QR}
    order = order_for(link, provider="alipay", channel="native")
    return order


def test_alipay_query_says_verification_failed_not_unreachable(alipay_gateway, alipay_order):
    _alipay_paid_answer(alipay_gateway, alipay_order)
    alipay_gateway.signer = new_key()  # someone in the middle claims the order was paid
    with pytest.raises(providers.VerificationFailed, match="支付宝查单应答验签失败") as caught:
        providers.alipay_query(alipay_order.out_trade_no)
    assert "暂时无法连接" not in str(caught.value)


def test_a_forged_alipay_query_answer_posts_nothing_and_is_parked_for_finance(client, alipay_gateway, alipay_order,
                                                                              alice, settings, caplog):
    _alipay_paid_answer(alipay_gateway, alipay_order)
    alipay_gateway.signer = new_key()
    with caplog.at_level(logging.ERROR, logger="wuye.portal"):
        counts = orders_query_waiting(now=_later(settings))
    assert counts["queried"] == 1 and counts["unverified"] == 1 and counts["paid"] == 0 and counts["failed"] == 0
    assert alipay_gateway.requests[-1]["method"] == "alipay.trade.query"
    alipay_order.refresh_from_db()
    assert alipay_order.status == OrderStatus.CREATED and not Payment.objects.exists()  # neither paid nor closed
    note = PaymentNotification.objects.get()
    assert (note.source, note.verified, note.result, note.order_id) == (
        "query", False, NotificationResult.PARKED_UNVERIFIED, alipay_order.pk)
    assert "验签失败" in note.detail and "暂时无法连接" not in note.detail
    assert any("failed signature verification" in r.getMessage() for r in caplog.records)
    client.force_login(alice)
    page = client.get("/portal-admin/").content.decode()
    assert 'data-testid="parked-alert"' in page and "查单应答验签失败，待财务核对" in page

    # queried again later: still nothing posted, still one open item for finance
    orders_query_waiting(now=_later(settings) + dt.timedelta(minutes=settings.WUYE_PAY_QUERY_AFTER_MINUTES + 1))
    assert PaymentNotification.objects.filter(result=NotificationResult.PARKED_UNVERIFIED).count() == 1
    assert not Payment.objects.exists()

    # the genuine answer (signed by Alipay) settles the order as usual
    alipay_gateway.signer = None
    orders_query_waiting(now=_later(settings) + dt.timedelta(hours=1))
    alipay_order.refresh_from_db()
    assert alipay_order.status == OrderStatus.PAID and Payment.objects.get().reference == "2026112322001499999"


def test_a_forged_wechat_query_answer_is_a_verification_failure_too(wechat, keys, link, settings):
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=Q1"})
    order = order_for(link)
    wechat.answers[f"/v3/pay/transactions/out-trade-no/{order.out_trade_no}"] = (200, {
        "mchid": MCHID, "appid": APPID, "out_trade_no": order.out_trade_no,
        "transaction_id": "4200000000202611230000000888", "trade_state": "SUCCESS",
        "success_time": "2026-11-23T10:00:05+08:00", "amount": {"total": order.amount_fen, "currency": "CNY"}})
    wechat.signer = new_key()
    with pytest.raises(providers.VerificationFailed, match="微信支付应答验签失败"):
        providers.wechat_query(order.out_trade_no)
    counts = orders_query_waiting(now=_later(settings))
    assert counts["unverified"] == 1 and counts["paid"] == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED and not Payment.objects.exists()
    assert PaymentNotification.objects.get().result == NotificationResult.PARKED_UNVERIFIED


def test_an_unreachable_gateway_is_still_a_connection_problem(alipay_gateway, alipay_order, settings):
    alipay_gateway.close()
    with pytest.raises(providers.ProviderError, match="暂时无法连接") as caught:
        providers.alipay_query(alipay_order.out_trade_no)
    assert not isinstance(caught.value, providers.VerificationFailed)
    assert orders_query_waiting(now=_later(settings))["failed"] == 1
    assert not PaymentNotification.objects.exists()
