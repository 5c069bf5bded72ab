"""WeChat Pay v3: the order request is signed by the SDK, notifications are verified and decrypted by it, and
each transaction posts one payment; whatever is wrong posts nothing and is shown to finance."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.utils import timezone

from tests.portal.conftest import (
    APPID,
    MCHID,
    new_key,
    order_for,
    post_wechat,
    wechat_notification,
)
from wuye.billing.models import Payment
from wuye.portal.choices import NotificationResult, OrderStatus
from wuye.portal.models import PaymentNotification, PaymentOrder

pytestmark = pytest.mark.django_db

CODE_URL = "weixin://wxpay/bizpayurl?pr=Tst1234"


def _native_ok(wechat):
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": CODE_URL})


def test_it_sends_an_order_signed_by_the_merchant_key_and_shows_a_qr_code(client, wechat, keys, link):
    _native_ok(wechat)
    response = client.post(f"/p/{link['token']}/pay/", {"provider": "wechat", "period": []})
    order = PaymentOrder.objects.get()
    assert response.status_code == 302 and order.out_trade_no in response["Location"]
    from wuye.billing.models import Bill

    expected = sum(b.amount_fen - b.settled_fen for b in Bill.objects.filter(unit=link["unit"], is_void=False))
    assert order.amount_fen == expected > 0
    assert order.status == OrderStatus.CREATED and order.code_url == CODE_URL
    [sent] = wechat.requests
    assert (sent.method, sent.path) == ("POST", "/v3/pay/transactions/native")
    body = json.loads(sent.body)
    assert body["mchid"] == MCHID and body["appid"] == APPID and body["out_trade_no"] == order.out_trade_no
    assert body["amount"] == {"total": order.amount_fen, "currency": "CNY"}
    assert body["notify_url"].endswith("/api/v1/pay/wechat/notify/")
    # the Authorization header: recompute the message and verify with the merchant's public key
    auth = sent.headers["authorization"]
    assert auth.startswith("WECHATPAY2-SHA256-RSA2048 ")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
    assert fields["mchid"] == MCHID and fields["serial_no"] == "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    assert abs(int(fields["timestamp"]) - time.time()) < 60
    message = f"POST\n{sent.path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{sent.body}\n".encode()
    keys.merchant.public_key().verify(base64.b64decode(fields["signature"]), message, padding.PKCS1v15(),
                                      hashes.SHA256())
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"<svg" in page.content and "¥" in page.content.decode()


def test_the_same_choice_tapped_twice_gives_the_same_order(wechat, link):
    _native_ok(wechat)
    first = order_for(link)
    assert order_for(link).pk == first.pk and len(wechat.requests) == 1


def test_a_valid_notification_posts_one_payment_and_the_owner_gets_a_receipt(client, wechat, keys, link):
    _native_ok(wechat)
    order = order_for(link)
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen,
                                        transaction_id="4200000000202611230000000001")
    response = post_wechat(client, headers, body)
    assert response.status_code == 200 and response.json()["code"] == "SUCCESS"
    order.refresh_from_db()
    payment = Payment.objects.get()
    assert order.status == OrderStatus.PAID and order.payment == payment
    assert (payment.amount_fen, payment.method, payment.reference) == (order.amount_fen, "wechat",
                                                                     "4200000000202611230000000001")
    assert payment.actor_label == "portal:wechat" and payment.created_by is None
    assert payment.unit_id == link["unit"].pk
    assert sum(a.amount_fen for a in payment.allocations.all()) == order.amount_fen  # all open lines paid
    note = PaymentNotification.objects.get()
    assert note.verified and note.result == NotificationResult.POSTED
    status = client.get(f"/p/{link['token']}/orders/{order.out_trade_no}/status/")
    assert "支付成功" in status.content.decode()
    pdf = client.get(f"/p/{link['token']}/receipts/{payment.pk}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_a_notification_replayed_five_times_posts_one_payment(client, wechat, keys, link):
    """Sequential replays (the concurrent, two-process case runs on PostgreSQL in test_concurrency)."""
    _native_ok(wechat)
    order = order_for(link)
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    answers = [post_wechat(client, headers, body) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert Payment.objects.count() == 1
    results = sorted(PaymentNotification.objects.values_list("result", flat=True))
    assert results == ["duplicate"] * 4 + ["posted"]


def test_chosen_periods_are_paid_first(client, wechat, keys, link):
    from wuye.billing.models import Bill

    _native_ok(wechat)
    july = list(Bill.objects.filter(unit=link["unit"], period_start=dt.date(2026, 7, 1)).values_list("pk", flat=True))
    order = order_for(link, bill_ids=july, pay_all=False)
    assert order.bill_ids == july
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    post_wechat(client, headers, body)
    paid = Bill.objects.filter(unit=link["unit"], settled_fen__gt=0)
    assert list(paid.values_list("pk", flat=True)) == july


def _staff_page(client, alice):
    client.force_login(alice)
    return client.get("/portal-admin/").content.decode()


def test_a_forged_signature_posts_nothing_and_finance_sees_it(client, wechat, keys, link, alice):
    _native_ok(wechat)
    order = order_for(link)
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen,
                                        signer=new_key())
    response = post_wechat(client, headers, body)
    assert response.status_code == 401 and response.json()["code"] == "FAIL"
    assert not Payment.objects.exists()
    note = PaymentNotification.objects.get()
    assert not note.verified and note.result == NotificationResult.REJECTED_SIGNATURE and note.body == body
    page = _staff_page(client, alice)
    assert "签名无效" in page


def test_a_tampered_body_fails_verification(client, wechat, keys, link):
    _native_ok(wechat)
    order = order_for(link)
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    response = post_wechat(client, headers, body.replace('"summary": "支付成功"', '"summary": "x"'))
    assert response.status_code == 401 and not Payment.objects.exists()


def test_a_wrong_apiv3_key_cannot_be_decrypted(client, wechat, keys, link):
    _native_ok(wechat)
    order = order_for(link)
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen,
                                        apiv3_key="x" * 32)
    assert post_wechat(client, headers, body).status_code == 401
    assert not Payment.objects.exists()


def test_a_stale_timestamp_is_rejected(client, wechat, keys, link):
    _native_ok(wechat)
    order = order_for(link)
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen,
                                        stamp=int(time.time()) - 6 * 60)
    response = post_wechat(client, headers, body)
    assert response.status_code == 401 and not Payment.objects.exists()
    assert PaymentNotification.objects.get().result == NotificationResult.REJECTED_STALE
    # a timestamp from the future is as bad
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen,
                                        stamp=int(time.time()) + 6 * 60)
    assert post_wechat(client, headers, body).status_code == 401 and not Payment.objects.exists()


def test_a_wrong_amount_is_parked_for_finance_and_not_posted(client, wechat, keys, link, alice):
    _native_ok(wechat)
    order = order_for(link)
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen - 1)
    response = post_wechat(client, headers, body)
    assert response.status_code == 200 and response.json()["code"] == "SUCCESS"  # received: no retries
    assert not Payment.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PARKED and "不符" in order.park_reason
    assert PaymentNotification.objects.get().result == NotificationResult.PARKED_MISMATCH
    page = _staff_page(client, alice)
    assert "需要财务处理" in page and order.out_trade_no in page
    # the same notification again is not posted either
    post_wechat(client, headers, body)
    assert not Payment.objects.exists()


def test_an_unknown_order_is_parked_and_finance_can_record_what_was_done(client, wechat, keys, link, alice):
    headers, body = wechat_notification(keys, out_trade_no="WY20261123000000DEADBEEF", amount_fen=12345)
    assert post_wechat(client, headers, body).status_code == 200
    assert not Payment.objects.exists()
    note = PaymentNotification.objects.get()
    assert note.result == NotificationResult.PARKED_UNKNOWN and note.amount_fen == 12345
    page = _staff_page(client, alice)
    assert "WY20261123000000DEADBEEF" in page and "需要财务处理" in page
    client.post("/portal-admin/resolve/", {"notification": note.pk, "note": "已原路退款"})
    note.refresh_from_db()
    assert note.resolved_by == alice and note.resolution_note == "已原路退款"
    assert "需要财务处理" not in client.get("/portal-admin/").content.decode()


def test_a_collector_may_not_see_the_payments_page(client, wechat, bob):
    client.force_login(bob)
    assert client.get("/portal-admin/").status_code == 403


def test_orders_without_a_notification_are_queried_and_settled(wechat, keys, link, settings):
    from wuye.portal.services import orders_query_waiting

    _native_ok(wechat)
    order = order_for(link)
    later = timezone.now() + dt.timedelta(minutes=settings.WUYE_PAY_QUERY_AFTER_MINUTES + 1)
    wechat.answers[f"/v3/pay/transactions/out-trade-no/{order.out_trade_no}"] = (200, {
        "mchid": MCHID, "appid": APPID, "out_trade_no": order.out_trade_no,
        "transaction_id": "4200000000202611230000000777", "trade_state": "SUCCESS",
        "success_time": "2026-11-23T10:00:05+08:00", "amount": {"total": order.amount_fen, "currency": "CNY"},
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}})
    assert orders_query_waiting(now=timezone.now()) == {"queried": 0, "paid": 0, "closed": 0, "failed": 0, "unverified": 0}
    counts = orders_query_waiting(now=later)
    assert counts["queried"] == 1 and counts["paid"] == 1
    query = wechat.requests[-1]
    assert query.method == "GET" and query.path == f"/v3/pay/transactions/out-trade-no/{order.out_trade_no}?mchid={MCHID}"
    assert query.headers["authorization"].startswith("WECHATPAY2-SHA256-RSA2048 ")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and Payment.objects.get().reference == "4200000000202611230000000777"
    kept = PaymentNotification.objects.get()
    assert kept.source == "query"
    # the payer's openid is kept masked only
    assert "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" not in kept.body and "oUpF8u****" in kept.body
    # a settled order is not asked about again
    assert orders_query_waiting(now=later) == {"queried": 0, "paid": 0, "closed": 0, "failed": 0, "unverified": 0}


def test_an_unpaid_order_past_its_time_is_closed(wechat, link):
    from wuye.portal.services import orders_query_waiting

    _native_ok(wechat)
    order = order_for(link)
    wechat.answers["/v3/pay/transactions/out-trade-no/"] = (200, {"out_trade_no": order.out_trade_no,
                                                                 "trade_state": "NOTPAY"})
    orders_query_waiting(now=order.expires_at + dt.timedelta(minutes=1))
    order.refresh_from_db()
    assert order.status == OrderStatus.CLOSED and not Payment.objects.exists()


def test_a_late_payment_for_a_closed_order_still_posts(client, wechat, keys, link):
    _native_ok(wechat)
    order = order_for(link)
    PaymentOrder.objects.filter(pk=order.pk).update(status=OrderStatus.CLOSED)
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    post_wechat(client, headers, body)
    assert Payment.objects.count() == 1


def test_without_settings_the_pay_button_says_online_payment_is_not_enabled(client, link):
    page = client.get(link["url"]).content.decode()
    assert "在线支付暂未开通" in page and "微信支付</button>" not in page
    response = client.post(f"/p/{link['token']}/pay/", {"provider": "wechat"}, follow=True)
    assert "暂未开通" in response.content.decode() and not PaymentOrder.objects.exists()


def test_a_provider_refusal_shows_a_message_and_closes_the_order(client, wechat, link):
    wechat.answers["/v3/pay/transactions/native"] = (400, {"code": "PARAM_ERROR", "message": "参数错误"})
    response = client.post(f"/p/{link['token']}/pay/", {"provider": "wechat"}, follow=True)
    assert "未能发起支付" in response.content.decode()
    assert PaymentOrder.objects.get().status == OrderStatus.CLOSED


def _paid_order(client, wechat, keys, link):
    _native_ok(wechat)
    order = order_for(link)
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    post_wechat(client, headers, body)
    order.refresh_from_db()
    return order


def test_finance_refunds_a_paid_order_and_the_payment_is_reversed(client, wechat, keys, link, alice):
    order = _paid_order(client, wechat, keys, link)
    wechat.answers["/v3/refund/domestic/refunds"] = (200, {"refund_id": "50000000382019052709732678859",
                                                           "out_refund_no": "RF" + order.out_trade_no[2:],
                                                           "status": "PROCESSING"})
    client.force_login(alice)
    response = client.post(f"/portal-admin/orders/{order.pk}/refund/", {"reason": "业主重复缴费"}, follow=True)
    assert "已退款" in response.content.decode()
    sent = wechat.requests[-1]
    assert sent.path == "/v3/refund/domestic/refunds" and sent.headers["authorization"].startswith("WECHATPAY2")
    assert json.loads(sent.body)["amount"] == {"refund": order.amount_fen, "total": order.amount_fen,
                                               "currency": "CNY"}
    order.refresh_from_db()
    reversal = Payment.objects.get(reverses=order.payment)
    assert order.status == OrderStatus.REFUNDED and reversal.amount_fen == -order.amount_fen
    assert "业主重复缴费" in reversal.note and reversal.created_by == alice


def test_a_refused_refund_changes_nothing(client, wechat, keys, link, alice):
    order = _paid_order(client, wechat, keys, link)
    wechat.answers["/v3/refund/domestic/refunds"] = (403, {"code": "NOT_ENOUGH", "message": "余额不足"})
    client.force_login(alice)
    response = client.post(f"/portal-admin/orders/{order.pk}/refund/", {"reason": "业主重复缴费"}, follow=True)
    assert "未退款" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and Payment.objects.count() == 1
