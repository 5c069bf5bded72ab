"""Alipay: the pay URL is signed locally with our key; notifications are RSA2-verified by the SDK; each trade
posts one payment; forged or mismatched ones post nothing."""

from __future__ import annotations

import base64
import urllib.parse

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.portal.conftest import ALIPAY_APPID, alipay_notification, new_key, order_for, query_of
from wuye.billing.models import Payment
from wuye.portal.choices import NotificationResult, OrderStatus
from wuye.portal.models import PaymentNotification
from wuye.portal.providers import yuan_text

pytestmark = pytest.mark.django_db


def _notify(client, params):
    # Alipay posts an ordinary urlencoded form
    return client.post("/api/v1/pay/alipay/notify/", urllib.parse.urlencode(params),
                       content_type="application/x-www-form-urlencoded; charset=utf-8")


def test_the_pay_url_is_signed_with_our_app_key(alipay, keys, link):
    order = order_for(link, provider="alipay")
    assert order.channel == "wap" and order.pay_url.startswith("https://openapi-sandbox.dl.alipaydev.com/gateway.do?")
    params = query_of(order.pay_url)
    assert params["app_id"] == ALIPAY_APPID and params["method"] == "alipay.trade.wap.pay"
    assert f'"out_trade_no":"{order.out_trade_no}"' in params["biz_content"]
    assert f'"total_amount":"{yuan_text(order.amount_fen)}"' in params["biz_content"]
    assert params["notify_url"].endswith("/api/v1/pay/alipay/notify/")
    signature = base64.b64decode(params.pop("sign"))
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items())).encode()
    keys.alipay_app.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_a_valid_notification_posts_one_payment_however_often_it_comes(client, alipay, keys, link):
    order = order_for(link, provider="alipay")
    params = alipay_notification(keys, out_trade_no=order.out_trade_no, amount=yuan_text(order.amount_fen))
    answers = [_notify(client, params).content for _ in range(3)]
    assert answers == [b"success"] * 3
    payment = Payment.objects.get()
    assert (payment.method, payment.reference, payment.amount_fen) == ("alipay", params["trade_no"], order.amount_fen)
    assert payment.actor_label == "portal:alipay"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    # TRADE_FINISHED for the same trade later changes nothing
    finished = alipay_notification(keys, out_trade_no=order.out_trade_no, amount=yuan_text(order.amount_fen),
                                   trade_no=params["trade_no"], trade_status="TRADE_FINISHED")
    assert _notify(client, finished).content == b"success" and Payment.objects.count() == 1


def test_a_forged_notification_is_refused(client, alipay, keys, link):
    order = order_for(link, provider="alipay")
    params = alipay_notification(keys, out_trade_no=order.out_trade_no, amount=yuan_text(order.amount_fen),
                                 signer=new_key())
    assert _notify(client, params).content == b"fail"
    assert not Payment.objects.exists()
    note = PaymentNotification.objects.get()
    assert note.result == NotificationResult.REJECTED_SIGNATURE and not note.verified


def test_a_changed_amount_breaks_the_signature(client, alipay, keys, link):
    order = order_for(link, provider="alipay")
    params = alipay_notification(keys, out_trade_no=order.out_trade_no, amount=yuan_text(order.amount_fen))
    params["total_amount"] = "0.01"
    assert _notify(client, params).content == b"fail" and not Payment.objects.exists()


def test_a_signed_mismatched_amount_is_parked(client, alipay, keys, link, alice):
    order = order_for(link, provider="alipay")
    params = alipay_notification(keys, out_trade_no=order.out_trade_no, amount=yuan_text(order.amount_fen + 100))
    assert _notify(client, params).content == b"success"
    assert not Payment.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PARKED
    client.force_login(alice)
    assert order.out_trade_no in client.get("/portal-admin/").content.decode()


def test_waiting_for_the_buyer_is_recorded_and_ignored(client, alipay, keys, link):
    order = order_for(link, provider="alipay")
    params = alipay_notification(keys, out_trade_no=order.out_trade_no, amount=yuan_text(order.amount_fen),
                                 trade_status="WAIT_BUYER_PAY")
    assert _notify(client, params).content == b"success"
    assert PaymentNotification.objects.get().result == NotificationResult.IGNORED and not Payment.objects.exists()


@pytest.mark.parametrize("minutes", [-6, 6, -60 * 24 * 3])
def test_a_notification_signed_outside_five_minutes_of_now_is_refused(client, alipay, keys, link, minutes):
    import datetime as dt

    order = order_for(link, provider="alipay")
    params = alipay_notification(keys, out_trade_no=order.out_trade_no, amount=yuan_text(order.amount_fen),
                                 notify_time=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes))
    assert _notify(client, params).content == b"fail"
    assert not Payment.objects.exists()
    note = PaymentNotification.objects.get()
    assert note.result == NotificationResult.REJECTED_STALE and not note.verified
    assert note.out_trade_no == order.out_trade_no and "通知时间" in note.detail
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED


def test_a_notification_just_inside_the_window_posts(client, alipay, keys, link):
    import datetime as dt

    order = order_for(link, provider="alipay")
    params = alipay_notification(keys, out_trade_no=order.out_trade_no, amount=yuan_text(order.amount_fen),
                                 notify_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4, seconds=30))
    assert _notify(client, params).content == b"success" and Payment.objects.count() == 1


def test_a_notification_without_a_notify_time_is_refused(client, alipay, keys, link):
    from alipay import AliPay

    from tests.portal.conftest import _pem_private, _pem_public

    order = order_for(link, provider="alipay")
    params = alipay_notification(keys, out_trade_no=order.out_trade_no, amount=yuan_text(order.amount_fen))
    for key in ("sign", "sign_type", "notify_time"):
        params.pop(key)
    signer = AliPay(appid=ALIPAY_APPID, app_private_key_string=_pem_private(keys.alipay_platform),
                    alipay_public_key_string=_pem_public(keys.alipay_app))
    params["sign"] = signer._sign("&".join(f"{k}={v}" for k, v in sorted(params.items())))
    params["sign_type"] = "RSA2"
    assert _notify(client, params).content == b"fail" and not Payment.objects.exists()
    assert PaymentNotification.objects.get().result == NotificationResult.REJECTED_MALFORMED
