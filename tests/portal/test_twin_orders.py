"""One set of bill lines, several online orders (the owner fell back from 微信内支付 to the QR code, or tried
Alipay first): the others are closed at WeChat Pay / Alipay with the SDKs' close calls when one is paid or the
owner switches; if two are paid anyway, the second is refunded automatically through billing's reversal, with
an audit trail. A refund whose answer cannot be trusted is queried, never rolled back blind.

All against the local provider stand-ins, every request and answer signed with the real SDKs."""

from __future__ import annotations

import json
import re

import pytest

from wuye.accounts.models import AuditEvent
from wuye.billing.models import Allocation, Bill, Payment
from wuye.billing.selectors import prepaid_balances
from wuye.portal.choices import Channel, NotificationResult, OrderStatus
from wuye.portal.models import PaymentNotification, PaymentOrder

from .conftest import (
    APPID,
    MCHID,
    alipay_notification,
    assert_signed_by_merchant,
    new_key,
    order_for,
    post_wechat,
    wechat_notification,
)
from .test_wechat_jsapi import WECHAT_IPHONE, _answers, _tap_pay, _through_wechat

pytestmark = pytest.mark.django_db


def _close_path(order) -> str:
    return f"/v3/pay/transactions/out-trade-no/{order.out_trade_no}/close"


def _pay(client, keys, order):
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    assert post_wechat(client, headers, body).status_code == 200
    order.refresh_from_db()
    return order


def test_falling_back_from_jsapi_to_the_qr_code_closes_the_jsapi_order_at_wechat(
        client, wechat_mp, wechat, keys, link, django_capture_on_commit_callbacks):
    _answers(wechat)
    callback = _through_wechat(_tap_pay(client, link)["Location"])
    page_url = client.get(callback, HTTP_USER_AGENT=WECHAT_IPHONE)["Location"]
    jsapi = PaymentOrder.objects.get()
    wechat.answers = {_close_path(jsapi): (204, None), **wechat.answers}
    page = client.get(page_url, HTTP_USER_AGENT=WECHAT_IPHONE).content.decode()
    action = re.search(r'<form method="post" action="([^"]+)"[^>]*data-testid="jsapi-fallback">', page).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(action, {"pay": "wechat:native"}, HTTP_USER_AGENT=WECHAT_IPHONE)
    native = PaymentOrder.objects.exclude(pk=jsapi.pk).get()
    assert native.channel == Channel.NATIVE and native.status == OrderStatus.CREATED
    close = next(r for r in wechat.requests if r.path == _close_path(jsapi))
    assert close.method == "POST" and json.loads(close.body) == {"mchid": MCHID}
    assert_signed_by_merchant(keys, close)
    jsapi.refresh_from_db()
    assert jsapi.status == OrderStatus.CLOSED and native.out_trade_no in jsapi.park_reason
    assert AuditEvent.objects.filter(verb="payorder.close", object_id=str(jsapi.pk)).exists()


def test_when_one_order_is_paid_the_other_open_orders_of_the_same_lines_are_closed(
        client, wechat, alipay_gateway, keys, link, django_capture_on_commit_callbacks):
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=A"})
    alipay = order_for(link, provider="alipay")  # opened, never paid
    native = order_for(link)
    alipay_gateway.answers["alipay.trade.close"] = {"code": "10000", "msg": "Success",
                                                    "out_trade_no": alipay.out_trade_no}
    with django_capture_on_commit_callbacks(execute=True):
        _pay(client, keys, native)
    assert native.status == OrderStatus.PAID
    sent = alipay_gateway.requests[-1]
    assert sent["method"] == "alipay.trade.close" and sent["_verified"]
    assert json.loads(sent["biz_content"]) == {"out_trade_no": alipay.out_trade_no}
    alipay.refresh_from_db()
    assert alipay.status == OrderStatus.CLOSED and native.out_trade_no in alipay.park_reason


def test_an_order_wechat_will_not_close_because_it_was_paid_is_queried_and_settled(
        client, wechat, keys, link, django_capture_on_commit_callbacks):
    """The owner paid the JSAPI order but the page never learnt it, then asked for the QR code: closing the
    first fails (paid), the query settles it, and the QR order is closed — nobody can pay twice."""
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=A"})
    first = order_for(link)
    wechat.answers = {_close_path(first): (400, {"code": "ORDERPAID", "message": "订单已支付"}),
                      f"/v3/pay/transactions/out-trade-no/{first.out_trade_no}": (200, {
                          "mchid": MCHID, "appid": APPID, "out_trade_no": first.out_trade_no,
                          "transaction_id": "4200000000202612010000000001", "trade_state": "SUCCESS",
                          "success_time": "2026-12-01T10:00:05+08:00",
                          "amount": {"total": first.amount_fen, "currency": "CNY"}}),
                      **wechat.answers}
    with django_capture_on_commit_callbacks(execute=True):
        second = _second_native(wechat, link)
        wechat.answers = {_close_path(second): (204, None), **wechat.answers}
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == OrderStatus.PAID and Payment.objects.count() == 1
    assert second.status == OrderStatus.CLOSED and first.out_trade_no in second.park_reason


def _second_native(wechat, link):
    """A second QR order for the same lines: made once the first has less than five minutes left (a tap
    within the window would get the first one back)."""
    from django.utils import timezone

    PaymentOrder.objects.update(expires_at=timezone.now() + timezone.timedelta(minutes=4))
    return order_for(link)


@pytest.fixture
def paid_twice(client, wechat, keys, link, django_capture_on_commit_callbacks):
    """Two QR orders for the same lines, both paid at WeChat (the close came too late)."""
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=A"})
    first = order_for(link)
    second = _second_native(wechat, link)
    _pay(client, keys, first)  # its after-commit work (closing the second) never ran: the test's transaction
    return first, second


def test_two_orders_paid_for_the_same_lines_the_second_is_refunded_automatically(
        client, wechat, keys, link, paid_twice, django_capture_on_commit_callbacks):
    first, second = paid_twice
    lines = {b.pk: b.settled_fen for b in Bill.objects.filter(unit=link["unit"])}
    wechat.answers = {"/v3/refund/domestic/refunds": (200, {"refund_id": "5000", "status": "PROCESSING",
                                                            "out_refund_no": "RF" + second.out_trade_no[2:]}),
                      **wechat.answers}
    with django_capture_on_commit_callbacks(execute=True):
        _pay(client, keys, second)
    second.refresh_from_db()
    assert second.status == OrderStatus.REFUNDED and first.out_trade_no in second.refund_reason
    refund = next(r for r in wechat.requests if r.path == "/v3/refund/domestic/refunds")
    assert_signed_by_merchant(keys, refund)
    assert json.loads(refund.body)["out_trade_no"] == second.out_trade_no
    assert json.loads(refund.body)["amount"]["refund"] == second.amount_fen
    # the money was recorded, paid nothing, and was reversed: the lines are as the first payment left them
    assert not Allocation.objects.filter(payment=second.payment).exists()
    reversal = Payment.objects.get(reverses=second.payment)
    assert reversal.amount_fen == -second.amount_fen and reversal.actor_label == "portal:auto-refund"
    assert {b.pk: b.settled_fen for b in Bill.objects.filter(unit=link["unit"])} == lines
    assert prepaid_balances([link["unit"].pk]).get(link["unit"].pk, 0) == 0
    assert AuditEvent.objects.filter(verb="payorder.refund", actor_label="portal:auto-refund").count() == 1
    assert AuditEvent.objects.filter(verb="payment.reverse", actor_label="portal:auto-refund").count() == 1
    note = PaymentNotification.objects.filter(order=second).get()
    assert note.result == NotificationResult.POSTED and "自动退款" in note.detail
    page = client.get(f"/p/{link['token']}/orders/{second.out_trade_no}/").content.decode()
    assert "已原路退回" in page and "另一笔订单支付" in page


def test_a_refused_automatic_refund_is_left_for_finance(client, wechat, keys, link, paid_twice, alice,
                                                        django_capture_on_commit_callbacks):
    first, second = paid_twice
    wechat.answers = {"/v3/refund/domestic/refunds": (403, {"code": "NOT_ENOUGH", "message": "余额不足"}),
                      **wechat.answers}
    with django_capture_on_commit_callbacks(execute=True):
        _pay(client, keys, second)
    second.refresh_from_db()
    assert second.status == OrderStatus.PAID and "自动退款未成功" in second.park_reason
    assert not Payment.objects.filter(reverses=second.payment).exists()
    client.force_login(alice)
    page = client.get("/portal-admin/").content.decode()
    assert 'data-testid="attention-orders"' in page and second.out_trade_no in page and "余额不足" in page
    # finance refunds by hand once the balance is there
    wechat.answers["/v3/refund/domestic/refunds"] = (200, {"refund_id": "5001", "status": "SUCCESS"})
    client.post(f"/portal-admin/orders/{second.pk}/refund/", {"reason": "重复支付"})
    second.refresh_from_db()
    assert second.status == OrderStatus.REFUNDED


def test_an_alipay_payment_for_lines_a_wechat_order_paid_is_refunded_too(
        client, wechat, alipay_gateway, keys, link, django_capture_on_commit_callbacks):
    import urllib.parse

    from wuye.portal.providers import yuan_text

    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=A"})
    alipay = order_for(link, provider="alipay")
    native = order_for(link)
    _pay(client, keys, native)
    alipay_gateway.answers["alipay.trade.refund"] = {"code": "10000", "msg": "Success", "fund_change": "Y",
                                                     "out_trade_no": alipay.out_trade_no,
                                                     "refund_fee": yuan_text(alipay.amount_fen)}
    params = alipay_notification(keys, out_trade_no=alipay.out_trade_no, amount=yuan_text(alipay.amount_fen))
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/api/v1/pay/alipay/notify/", urllib.parse.urlencode(params),
                             content_type="application/x-www-form-urlencoded; charset=utf-8")
    assert answer.content == b"success"
    alipay.refresh_from_db()
    assert alipay.status == OrderStatus.REFUNDED
    assert alipay_gateway.requests[-1]["method"] == "alipay.trade.refund"
    assert Payment.objects.filter(amount_fen__gt=0).count() == 2 and Payment.objects.filter(amount_fen__lt=0).count() == 1


# --- a refund whose answer cannot be trusted ---------------------------------------------------------------

@pytest.fixture
def paid(client, wechat, keys, link):
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=A"})
    return _pay(client, keys, order_for(link))


def _refund_paths(order):
    return f"/v3/refund/domestic/refunds/RF{order.out_trade_no[2:]}", "/v3/refund/domestic/refunds"


def test_a_forged_refund_answer_is_queried_and_the_genuine_answer_decides(client, wechat, paid, alice):
    query, refund = _refund_paths(paid)
    wechat.answers = {query: (200, {"refund_id": "5002", "out_refund_no": query.rsplit("/", 1)[1],
                                    "status": "SUCCESS"}),
                      refund: (200, {"refund_id": "5002", "status": "PROCESSING"}, new_key()), **wechat.answers}
    client.force_login(alice)
    page = client.post(f"/portal-admin/orders/{paid.pk}/refund/", {"reason": "业主重复缴费"},
                       follow=True).content.decode()
    assert "已退款" in page
    assert [r.path for r in wechat.requests[-2:]] == [refund, query]
    paid.refresh_from_db()
    assert paid.status == OrderStatus.REFUNDED
    assert Payment.objects.get(reverses=paid.payment).created_by == alice


def test_a_forged_refund_answer_for_a_refund_wechat_never_received_changes_nothing(client, wechat, paid, alice):
    query, refund = _refund_paths(paid)
    wechat.answers = {query: (404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}),
                      refund: (200, {"refund_id": "5002", "status": "SUCCESS"}, new_key()), **wechat.answers}
    client.force_login(alice)
    page = client.post(f"/portal-admin/orders/{paid.pk}/refund/", {"reason": "业主重复缴费"},
                       follow=True).content.decode()
    assert "未退款" in page and "没有受理这笔退款" in page
    paid.refresh_from_db()
    assert paid.status == OrderStatus.PAID and not Payment.objects.filter(reverses=paid.payment).exists()
    assert AuditEvent.objects.filter(verb="payorder.refund_refused").count() == 1


def test_when_neither_answer_can_be_trusted_the_order_waits_and_is_queried_again(client, wechat, paid, alice):
    from wuye.portal.services import refunds_query_pending

    query, refund = _refund_paths(paid)
    forged = new_key()
    wechat.answers = {query: (200, {"status": "SUCCESS"}, forged),
                      refund: (200, {"refund_id": "5002", "status": "SUCCESS"}, forged), **wechat.answers}
    client.force_login(alice)
    page = client.post(f"/portal-admin/orders/{paid.pk}/refund/", {"reason": "业主重复缴费"},
                       follow=True).content.decode()
    assert "退款结果待核实" in page and "请勿重复退款" in page
    paid.refresh_from_db()
    assert paid.status == OrderStatus.REFUNDING and not Payment.objects.filter(reverses=paid.payment).exists()
    page = client.get("/portal-admin/").content.decode()
    assert 'data-testid="attention-orders"' in page and paid.refund_no in page
    # finance cannot refund it a second time meanwhile
    page = client.post(f"/portal-admin/orders/{paid.pk}/refund/", {"reason": "再退一次"}, follow=True).content.decode()
    assert "只有已支付的订单可以退款" in page
    # the periodic job asks again; now WeChat's genuine answer arrives
    wechat.answers[query] = (200, {"refund_id": "5002", "status": "SUCCESS"})
    assert refunds_query_pending() == {"refunded": 1, "refused": 0, "uncertain": 0}
    paid.refresh_from_db()
    assert paid.status == OrderStatus.REFUNDED
    assert Payment.objects.get(reverses=paid.payment).actor_label == "portal:refund-query"
