"""Refunds through Alipay (WeChat's are in test_wechat), a refund without a reason, a refund event from
WeChat, and notifications that arrive out of order: none moves money twice or undoes a settled order."""

from __future__ import annotations

import urllib.parse

import pytest

from wuye.accounts.models import AuditEvent
from wuye.billing.models import Payment
from wuye.portal.choices import NotificationResult, OrderStatus
from wuye.portal.models import PaymentNotification
from wuye.portal.providers import yuan_text

from .conftest import alipay_notification, new_key, order_for, post_wechat, wechat_notification

pytestmark = pytest.mark.django_db


def _notify_alipay(client, params):
    return client.post("/api/v1/pay/alipay/notify/", urllib.parse.urlencode(params),
                       content_type="application/x-www-form-urlencoded; charset=utf-8")


@pytest.fixture
def paid_alipay(client, alipay_gateway, keys, link):
    order = order_for(link, provider="alipay")
    params = alipay_notification(keys, out_trade_no=order.out_trade_no, amount=yuan_text(order.amount_fen))
    assert _notify_alipay(client, params).content == b"success"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    return order


def _refund_answer(order):
    return {"code": "10000", "msg": "Success", "out_trade_no": order.out_trade_no, "trade_no": order.transaction_id,
            "fund_change": "Y", "refund_fee": yuan_text(order.amount_fen)}


def test_finance_refunds_an_alipay_order_through_the_signed_gateway(client, alipay_gateway, paid_alipay, alice):
    order = paid_alipay
    alipay_gateway.answers["alipay.trade.refund"] = _refund_answer(order)
    client.force_login(alice)
    response = client.post(f"/portal-admin/orders/{order.pk}/refund/", {"reason": "业主在服务中心已付现金"},
                           follow=True)
    assert f"订单 {order.out_trade_no} 已退款" in response.content.decode()
    sent = alipay_gateway.requests[-1]
    assert sent["method"] == "alipay.trade.refund" and sent["_verified"]  # signed with our app key
    assert f'"refund_amount":"{yuan_text(order.amount_fen)}"' in sent["biz_content"]
    assert f'"out_request_no":"RF{order.out_trade_no[2:]}"' in sent["biz_content"]
    order.refresh_from_db()
    reversal = Payment.objects.get(reverses=order.payment)
    assert order.status == OrderStatus.REFUNDED and reversal.amount_fen == -order.amount_fen
    assert reversal.created_by == alice and "业主在服务中心已付现金" in reversal.note
    assert AuditEvent.objects.filter(verb="payorder.refund", actor=alice).count() == 1
    # a second press refunds nothing more
    response = client.post(f"/portal-admin/orders/{order.pk}/refund/", {"reason": "再来一次"}, follow=True)
    assert "只有已支付的订单可以退款" in response.content.decode()
    assert Payment.objects.filter(reverses=order.payment).count() == 1


def test_a_refused_alipay_refund_answer_changes_nothing(client, alipay_gateway, paid_alipay, alice):
    order = paid_alipay
    alipay_gateway.answers["alipay.trade.refund"] = {"code": "40004", "msg": "Business Failed",
                                                     "sub_code": "ACQ.TRADE_HAS_FINISHED", "sub_msg": "交易已完结"}
    client.force_login(alice)
    response = client.post(f"/portal-admin/orders/{order.pk}/refund/", {"reason": "重复缴费"}, follow=True)
    assert "未退款：支付宝退款未受理：交易已完结" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and Payment.objects.count() == 1


def test_a_forged_alipay_refund_answer_is_never_taken_as_a_refusal(client, alipay_gateway, paid_alipay, alice):
    """The refund may have gone through: nothing is reversed and nothing is rolled back; the order waits as
    退款待核实 (queried, and shown to finance) instead of looking refundable again."""
    order = paid_alipay
    alipay_gateway.answers["alipay.trade.refund"] = _refund_answer(order)
    alipay_gateway.answers["alipay.trade.fastpay.refund.query"] = {"code": "10000", "msg": "Success",
                                                                   "refund_amount": yuan_text(order.amount_fen)}
    alipay_gateway.signer = new_key()
    client.force_login(alice)
    response = client.post(f"/portal-admin/orders/{order.pk}/refund/", {"reason": "重复缴费"}, follow=True)
    page = response.content.decode()
    assert "退款结果待核实" in page and "未退款" not in page
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDING and Payment.objects.count() == 1
    assert [r["method"] for r in alipay_gateway.requests[-2:]] == ["alipay.trade.refund",
                                                                    "alipay.trade.fastpay.refund.query"]
    # the next query gets a genuine answer: the refund went through, so the payment is reversed
    alipay_gateway.signer = None
    from wuye.portal.services import refunds_query_pending

    assert refunds_query_pending() == {"refunded": 1, "refused": 0, "uncertain": 0}
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert Payment.objects.get(reverses=order.payment).amount_fen == -order.amount_fen


def test_a_refund_needs_a_reason_and_a_finance_role(client, alipay_gateway, paid_alipay, alice, bob):
    order = paid_alipay
    client.force_login(alice)
    response = client.post(f"/portal-admin/orders/{order.pk}/refund/", {"reason": "  "}, follow=True)
    assert "请填写退款原因" in response.content.decode()
    client.force_login(bob)  # a collector
    assert client.post(f"/portal-admin/orders/{order.pk}/refund/", {"reason": "x"}).status_code == 403
    assert alipay_gateway.requests == [] and Payment.objects.count() == 1


def test_a_wechat_refund_event_is_recorded_and_moves_no_money(client, wechat, keys, link):
    """WeChat sends REFUND.SUCCESS to the same address: the refund was applied when finance asked for it."""
    import base64
    import json
    import secrets
    import time

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from .conftest import APIV3_KEY, MCHID, sign_headers

    resource = {"mchid": MCHID, "out_trade_no": "WY1", "transaction_id": "4200", "out_refund_no": "RF1",
                "refund_id": "50000", "refund_status": "SUCCESS", "amount": {"total": 100, "refund": 100}}
    nonce = secrets.token_hex(6)
    ciphertext = AESGCM(APIV3_KEY.encode()).encrypt(nonce.encode(), json.dumps(resource).encode(), b"refund")
    body = json.dumps({"id": "r1", "event_type": "REFUND.SUCCESS", "resource_type": "encrypt-resource",
                       "resource": {"algorithm": "AEAD_AES_256_GCM", "ciphertext": base64.b64encode(ciphertext)
                                    .decode(), "associated_data": "refund", "nonce": nonce}})
    headers = sign_headers(keys, body, stamp=str(int(time.time())), nonce=secrets.token_hex(16))
    assert post_wechat(client, headers, body).status_code == 200
    note = PaymentNotification.objects.get()
    assert note.result == NotificationResult.IGNORED and "退款通知" in note.detail
    assert not Payment.objects.exists()


def test_notifications_out_of_order_do_not_undo_a_paid_order(client, alipay, keys, link):
    """TRADE_SUCCESS first, then the earlier WAIT_BUYER_PAY and a TRADE_CLOSED: the order stays paid, one payment."""
    order = order_for(link, provider="alipay")
    amount = yuan_text(order.amount_fen)
    success = alipay_notification(keys, out_trade_no=order.out_trade_no, amount=amount)
    assert _notify_alipay(client, success).content == b"success"
    for status in ("WAIT_BUYER_PAY", "TRADE_CLOSED"):
        late = alipay_notification(keys, out_trade_no=order.out_trade_no, amount=amount,
                                   trade_no=success["trade_no"], trade_status=status)
        assert _notify_alipay(client, late).content == b"success"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and Payment.objects.count() == 1
    assert list(PaymentNotification.objects.order_by("id").values_list("result", flat=True)) == [
        NotificationResult.POSTED, NotificationResult.IGNORED, NotificationResult.IGNORED]


def test_a_wechat_notification_after_the_query_settled_the_order_counts_once(client, wechat, keys, link, settings):
    import datetime as dt

    from django.utils import timezone

    from wuye.portal.services import orders_query_waiting

    from .conftest import APPID, MCHID

    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=O1"})
    order = order_for(link)
    tx = "4200000000202611230000000999"
    wechat.answers[f"/v3/pay/transactions/out-trade-no/{order.out_trade_no}"] = (200, {
        "mchid": MCHID, "appid": APPID, "out_trade_no": order.out_trade_no, "transaction_id": tx,
        "trade_state": "SUCCESS", "success_time": "2026-11-23T10:00:05+08:00",
        "amount": {"total": order.amount_fen, "currency": "CNY"}})
    later = timezone.now() + dt.timedelta(minutes=settings.WUYE_PAY_QUERY_AFTER_MINUTES + 1)
    assert orders_query_waiting(now=later)["paid"] == 1
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen,
                                        transaction_id=tx)
    assert post_wechat(client, headers, body).status_code == 200
    assert Payment.objects.count() == 1
    assert PaymentNotification.objects.order_by("id").last().result == NotificationResult.DUPLICATE
