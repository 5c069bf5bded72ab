"""A notification whose processing fails (the database was busy) names its order, and is never shown to
finance as 入账失败 once another copy of the same transaction has posted the payment — whichever finished
first. (Issue: 8 phantom "入账失败" items without an order number for payments that did post.)"""

from __future__ import annotations

import pytest
from django.db import OperationalError

from wuye.billing.models import Payment
from wuye.portal import services
from wuye.portal.choices import NotificationResult, OrderStatus
from wuye.portal.models import PaymentNotification
from wuye.portal.selectors import finance_notifications, parked_notifications_q

from .conftest import order_for, post_wechat, wechat_notification

pytestmark = pytest.mark.django_db

R = NotificationResult


@pytest.fixture
def order(wechat, link):
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=F"})
    return order_for(link)


def _parked():
    return list(finance_notifications().filter(parked_notifications_q()))


def test_a_copy_that_failed_before_another_posted_becomes_a_duplicate(client, keys, order, alice, monkeypatch):
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    real = services.payment_record
    calls = []

    def busy_once(**kw):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return real(**kw)

    monkeypatch.setattr(services, "payment_record", busy_once)
    assert post_wechat(client, headers, body).status_code == 500  # WeChat will deliver it again
    failed = PaymentNotification.objects.get()
    assert failed.result == R.PARKED_ERROR and failed.out_trade_no == order.out_trade_no
    assert failed.order_id == order.pk and order.out_trade_no in failed.detail and failed.amount_fen
    client.force_login(alice)
    assert order.out_trade_no in client.get("/portal-admin/").content.decode()
    # the retry posts; the failed copy is a duplicate now and leaves the list
    assert post_wechat(client, headers, body).status_code == 200
    failed.refresh_from_db()
    assert failed.result == R.DUPLICATE and order.out_trade_no in failed.detail
    assert Payment.objects.count() == 1 and _parked() == []
    page = client.get("/portal-admin/").content.decode()
    assert 'data-testid="parked-alert"' not in page and "入账失败，待财务处理" not in page


def test_a_copy_that_fails_after_another_posted_is_a_duplicate_at_once(client, keys, order, monkeypatch):
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    assert post_wechat(client, headers, body).status_code == 200

    def busy(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "_settle", busy)
    assert post_wechat(client, headers, body).status_code == 500
    late = PaymentNotification.objects.order_by("id").last()
    assert late.result == R.DUPLICATE and late.order_id == order.pk
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and Payment.objects.count() == 1 and _parked() == []


def test_a_real_failure_stays_listed_and_names_its_order(client, keys, order, monkeypatch):
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)

    def broken(**kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "payment_record", broken)
    assert post_wechat(client, headers, body).status_code == 500
    [note] = _parked()
    assert note.out_trade_no == order.out_trade_no and note.order_id == order.pk
    assert note.transaction_id and note.amount_fen == order.amount_fen


def test_the_list_never_shows_a_failed_copy_of_a_posted_transaction(client, keys, order):
    """Belt and braces for the list itself: whatever order the copies were recorded in."""
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    post_wechat(client, headers, body)
    order.refresh_from_db()
    PaymentNotification.objects.create(provider="wechat", out_trade_no=order.out_trade_no, order=order,
                                       transaction_id=order.transaction_id, result=R.PARKED_ERROR,
                                       detail="处理出错，等待重试。")
    assert _parked() == []
