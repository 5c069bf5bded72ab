"""微信内支付 (JSAPI): inside WeChat the pay step asks WeChat's silent 网页授权 for the payer's openid (a state
bound to this browser's session and the link), the callback exchanges the code at the (local) token endpoint,
the JSAPI order goes to the (local) WeChat Pay API with ``payer.openid``, and the page hands the bridge
parameters signed with the merchant key. Whatever fails falls back to the QR code with a message."""

from __future__ import annotations

import base64
import json
import logging
import re
import urllib.parse

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.test import Client

from wuye.billing.models import Payment
from wuye.portal.choices import Channel, NotificationResult, OrderStatus
from wuye.portal.models import PaymentNotification, PaymentOrder
from wuye.portal.services import wechat_channel_for

from .conftest import (
    APPID,
    MP_APPID,
    MP_SECRET,
    OPENID,
    assert_signed_by_merchant,
    post_wechat,
    wechat_notification,
)

pytestmark = pytest.mark.django_db

WECHAT_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Mobile/15E148 MicroMessenger/8.0.49(0x18003137) NetType/WIFI Language/zh_CN")
WECOM = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Mobile/15E148 wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh ColorScheme/Light")
IPHONE_SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.5 Mobile/15E148 Safari/604.1")
PREPAY_ID = "wx201410272009395522657a690389285100"
CODE_URL = "weixin://wxpay/bizpayurl?pr=JsFall01"
CALLBACK = "https://wuye.example.cn/p/wechat/oauth/"


def _answers(wechat):
    wechat.answers["/v3/pay/transactions/jsapi"] = (200, {"prepay_id": PREPAY_ID})
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": CODE_URL})


def _tap_pay(client, link, **data):
    return client.post(f"/p/{link['token']}/pay/", {"provider": "wechat", **data}, HTTP_USER_AGENT=WECHAT_IPHONE)


def _through_wechat(authorize: str) -> str:
    """What WeChat does with the authorize URL (here: the local stand-in): the callback path and query."""
    answer = requests.get(authorize.split("#")[0], allow_redirects=False, timeout=5)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(CALLBACK)
    back = urllib.parse.urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


def _pay_in_wechat(client, link):
    """Tap 微信支付 inside WeChat, go through the silent authorization, land on the order page."""
    callback = _through_wechat(_tap_pay(client, link)["Location"])
    response = client.get(callback, HTTP_USER_AGENT=WECHAT_IPHONE)
    assert response.status_code == 302 and "/orders/" in response["Location"]
    return response


def _params(page: str) -> dict:
    found = re.search(r'<script id="wx-pay-params" type="application/json">(.*?)</script>', page, re.S)
    assert found, "no JSAPI parameters on the page"
    return json.loads(found.group(1))


def test_with_a_service_account_wechat_pays_inside_wechat_by_jsapi(wechat_mp):
    assert wechat_channel_for(WECHAT_IPHONE) == Channel.JSAPI
    # WeCom's browser and a mini program's web-view say MicroMessenger too but cannot pay a service
    # account's order by the bridge; other browsers keep their ways
    assert wechat_channel_for(WECOM) == Channel.NATIVE
    assert wechat_channel_for(WECHAT_IPHONE.replace("MicroMessenger", "MicroMessenger miniProgram")) == Channel.NATIVE
    assert wechat_channel_for(IPHONE_SAFARI) == Channel.H5


def test_without_the_service_account_secret_inside_wechat_stays_the_qr_code(wechat_mp, wechat, link, client,
                                                                           settings):
    _answers(wechat)
    secret_file = settings.WECHAT_MP_SECRET_FILE
    settings.WECHAT_MP_SECRET_FILE = ""  # the AppID alone does not switch JSAPI on
    response = _tap_pay(client, link)
    assert response.status_code == 302 and "/orders/" in response["Location"]
    assert PaymentOrder.objects.get().channel == Channel.NATIVE and wechat_mp.requests == []
    settings.WECHAT_MP_SECRET_FILE = secret_file
    assert _tap_pay(client, link)["Location"].startswith(settings.WECHAT_MP_AUTHORIZE_URL)


def test_the_pay_step_inside_wechat_asks_for_silent_authorization_with_a_bound_state(client, wechat_mp, link):
    response = _tap_pay(client, link)
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(wechat_mp.url + "/connect/oauth2/authorize?") and url.endswith("#wechat_redirect")
    query = urllib.parse.urlsplit(url).query
    # WeChat matches the link strictly: these parameters, in this order
    assert [k for k, _ in urllib.parse.parse_qsl(query)] == ["appid", "redirect_uri", "response_type", "scope",
                                                             "state"]
    q = dict(urllib.parse.parse_qsl(query))
    assert q["appid"] == MP_APPID and q["redirect_uri"] == CALLBACK
    assert q["response_type"] == "code" and q["scope"] == "snsapi_base"
    assert re.fullmatch(r"[0-9a-f]{64}", q["state"])
    assert link["token"] not in url  # the link's key stays in this browser's session
    assert PaymentOrder.objects.count() == 0 and wechat_mp.requests == []


def test_a_tampered_or_foreign_or_reused_state_is_refused_and_no_code_is_exchanged(client, wechat_mp, wechat,
                                                                                    link):
    _answers(wechat)
    callback = _through_wechat(_tap_pay(client, link)["Location"])
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))["state"]
    tampered = callback.replace(state, state[:-1] + ("0" if state[-1] != "0" else "1"))
    refused = client.get(tampered, HTTP_USER_AGENT=WECHAT_IPHONE)
    assert refused.status_code == 400 and "授权校验未通过" in refused.content.decode()
    assert link["unit"].code not in refused.content.decode()

    stranger = Client()  # another browser holding this browser's state (CSRF: a link sent to someone)
    refused = stranger.get(callback, HTTP_USER_AGENT=WECHAT_IPHONE)
    assert refused.status_code == 400 and link["unit"].code not in refused.content.decode()
    assert [r["path"] for r in wechat_mp.requests] == ["/connect/oauth2/authorize"]  # no code exchanged
    assert PaymentOrder.objects.count() == 0

    # the genuine state in its own browser goes through, once
    assert client.get(callback, HTTP_USER_AGENT=WECHAT_IPHONE).status_code == 302
    assert PaymentOrder.objects.get().channel == Channel.JSAPI
    reused = client.get(callback, HTTP_USER_AGENT=WECHAT_IPHONE)
    assert reused.status_code == 400 and "已使用" in reused.content.decode()
    assert [r["path"] for r in wechat_mp.requests].count("/sns/oauth2/access_token") == 1


def test_the_callback_exchanges_the_code_keeps_the_openid_and_places_a_signed_jsapi_order(
        client, wechat_mp, wechat, keys, link, caplog):
    caplog.set_level(logging.DEBUG)
    _answers(wechat)
    response = _pay_in_wechat(client, link)

    token_call = wechat_mp.requests[-1]
    assert token_call["path"] == "/sns/oauth2/access_token"
    assert (token_call["appid"], token_call["secret"], token_call["code"], token_call["grant_type"]) == (
        MP_APPID, MP_SECRET, "CODE_OK", "authorization_code")
    assert client.session["portal_wx_openid"] == {"appid": MP_APPID, "openid": OPENID}

    order = PaymentOrder.objects.get()
    assert order.channel == Channel.JSAPI and order.prepay_id == PREPAY_ID and order.status == OrderStatus.CREATED
    assert order.payer_hash and OPENID not in order.payer_hash
    [sent] = wechat.requests
    assert (sent.method, sent.path) == ("POST", "/v3/pay/transactions/jsapi")
    body = json.loads(sent.body)
    assert body["payer"] == {"openid": OPENID} and body["appid"] == MP_APPID
    assert body["amount"] == {"total": order.amount_fen, "currency": "CNY"}
    assert_signed_by_merchant(keys, sent)

    page = client.get(response["Location"], HTTP_USER_AGENT=WECHAT_IPHONE).content.decode()
    params = _params(page)
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["appId"] == MP_APPID and params["package"] == f"prepay_id={PREPAY_ID}"
    assert params["signType"] == "RSA" and params["timeStamp"].isdigit() and len(params["nonceStr"]) >= 16
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    keys.merchant.public_key().verify(base64.b64decode(params["paySign"]), message, padding.PKCS1v15(),
                                      hashes.SHA256())
    assert "wuye/portal_jsapi.js" in page  # the bridge call lives in a static file (Content-Security-Policy)
    from django.contrib.staticfiles import finders

    script = open(finders.find("wuye/portal_jsapi.js"), encoding="utf-8").read()
    assert "getBrandWCPayRequest" in script and "WeixinJSBridgeReady" in script
    assert 'data-testid="jsapi-fallback"' in page and "改用二维码支付" in page and "<svg" not in page
    assert OPENID not in page

    # the openid is personal data: never in full in the logs, nor the secret, the code or WeChat's tokens
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (OPENID, MP_SECRET, "CODE_OK", "ACCESS_TOKEN_NOT_KEPT"):
        assert secret not in logged
    assert "oX9kT2****" in logged

    # a second tap: no second authorization (the session has the openid), the same order
    again = _tap_pay(client, link)
    assert again["Location"] == response["Location"] and len(wechat.requests) == 1
    assert [r["path"] for r in wechat_mp.requests].count("/connect/oauth2/authorize") == 1


def test_the_same_unit_paid_by_another_wechat_user_gets_its_own_order(client, wechat_mp, wechat, link):
    _answers(wechat)
    _pay_in_wechat(client, link)
    other = Client()
    wechat_mp.codes["CODE_2"] = {"openid": "oSecondPayer0000000000000000", "scope": "snsapi_base"}
    wechat_mp.next_code = "CODE_2"
    _pay_in_wechat(other, link)
    first, second = PaymentOrder.objects.order_by("pk")
    assert first.pk != second.pk and first.payer_hash != second.payer_hash
    assert [json.loads(r.body)["payer"]["openid"] for r in wechat.requests] == [OPENID, "oSecondPayer0000000000000000"]


@pytest.mark.parametrize(("case", "message"), [
    ("invalid-code", "未能取得微信授权"),
    ("http-500", "未能取得微信授权"),
    ("unreachable", "暂时连不上微信授权服务"),
    ("snapshot", "微信快照页"),
    ("no-secret-file", "微信公众号配置有误"),
])
def test_when_wechat_gives_no_openid_the_owner_gets_the_qr_code_with_a_message(client, wechat_mp, wechat, link,
                                                                              settings, case, message):
    _answers(wechat)
    if case == "invalid-code":
        wechat_mp.next_code = "CODE_EXPIRED"
    elif case == "http-500":
        wechat_mp.status = 500
    elif case == "unreachable":
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        settings.WECHAT_MP_TOKEN_URL = f"http://127.0.0.1:{port}/sns/oauth2/access_token"
    elif case == "snapshot":
        wechat_mp.codes["CODE_OK"]["is_snapshotuser"] = 1
    else:
        settings.WECHAT_MP_SECRET_FILE = "/nonexistent/wechat_mp_secret"
    response = _pay_in_wechat(client, link)
    order = PaymentOrder.objects.get()
    assert order.channel == Channel.NATIVE and order.code_url == CODE_URL
    assert [r.path for r in wechat.requests] == ["/v3/pay/transactions/native"]
    assert "portal_wx_openid" not in client.session
    page = client.get(response["Location"], HTTP_USER_AGENT=WECHAT_IPHONE).content.decode()
    assert message in page
    assert 'data-testid="pay-qr"' in page and "长按上方二维码" in page and "wx-pay-params" not in page


def test_a_jsapi_order_refused_by_wechat_falls_back_to_the_qr_code_and_forgets_the_openid(client, wechat_mp,
                                                                                           wechat, link):
    _answers(wechat)
    wechat.answers["/v3/pay/transactions/jsapi"] = (400, {"code": "PARAM_ERROR", "message": "openid和appid不匹配"})
    response = _pay_in_wechat(client, link)
    assert [r.path for r in wechat.requests] == ["/v3/pay/transactions/jsapi", "/v3/pay/transactions/native"]
    jsapi, native = PaymentOrder.objects.order_by("pk")
    assert jsapi.status == OrderStatus.CLOSED and native.channel == Channel.NATIVE
    assert native.out_trade_no in response["Location"] and "portal_wx_openid" not in client.session
    page = client.get(response["Location"], HTTP_USER_AGENT=WECHAT_IPHONE).content.decode()
    assert "openid和appid不匹配" in page and "已改用二维码支付" in page and 'data-testid="pay-qr"' in page


def test_the_fallback_button_on_the_jsapi_page_gives_the_qr_code_for_the_same_periods(client, wechat_mp, wechat,
                                                                                      link):
    from wuye.billing.services import open_bills

    _answers(wechat)
    first = open_bills(link["unit"].pk)[0]
    callback = _through_wechat(_tap_pay(client, link, period=[str(first.pk)], scope="chosen")["Location"])
    page_url = client.get(callback, HTTP_USER_AGENT=WECHAT_IPHONE)["Location"]
    jsapi = PaymentOrder.objects.get()
    assert jsapi.bill_ids == [first.pk]
    page = client.get(page_url, HTTP_USER_AGENT=WECHAT_IPHONE).content.decode()
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*data-testid="jsapi-fallback">(.*?)</form>', page, re.S)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(2)))
    assert fields["period"] == str(first.pk)
    answer = client.post(form.group(1), {"period": fields["period"], "pay": "wechat:native"},
                         HTTP_USER_AGENT=WECHAT_IPHONE)
    native = PaymentOrder.objects.exclude(pk=jsapi.pk).get()
    assert native.channel == Channel.NATIVE and native.bill_ids == [first.pk] and native.amount_fen == jsapi.amount_fen
    assert native.out_trade_no in answer["Location"]


def test_outside_wechat_a_jsapi_order_page_offers_the_qr_code_and_no_bridge_call(client, wechat_mp, wechat, link):
    _answers(wechat)
    url = _pay_in_wechat(client, link)["Location"]
    page = client.get(url, HTTP_USER_AGENT=IPHONE_SAFARI).content.decode()
    assert "需要在微信中打开" in page and "改用二维码支付" in page and "wx-pay-params" not in page


def test_after_wechat_says_ok_the_page_waits_for_the_notification_which_posts_once(client, wechat_mp, wechat,
                                                                                    keys, link):
    _answers(wechat)
    url = _pay_in_wechat(client, link)["Location"]
    order = PaymentOrder.objects.get()
    page = client.get(url + "?wx=ok", HTTP_USER_AGENT=WECHAT_IPHONE).content.decode()
    assert "正在确认到账" in page and "wx-pay-params" not in page and "等待支付" not in page
    assert "/status/?wx=ok" in page  # the status box keeps saying so while it polls
    assert Payment.objects.count() == 0  # the bridge's "ok" is not money: only the notification is

    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen,
                                        appid=MP_APPID, trade_type="JSAPI")
    for _ in range(2):
        assert post_wechat(client, headers, body).status_code == 200
    payment = Payment.objects.get()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.payment_id == payment.pk
    page = client.get(url, HTTP_USER_AGENT=WECHAT_IPHONE).content.decode()
    assert "支付成功" in page and payment.receipt_no in page


def test_a_notification_for_an_app_id_that_is_not_ours_posts_nothing(client, wechat_mp, wechat, keys, link):
    _answers(wechat)
    _pay_in_wechat(client, link)
    order = PaymentOrder.objects.get()
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen,
                                        appid="wx0000000000000000")
    post_wechat(client, headers, body)
    assert Payment.objects.count() == 0
    assert PaymentNotification.objects.get().result == NotificationResult.REJECTED_MALFORMED
    assert APPID != MP_APPID


def test_a_state_older_than_ten_minutes_is_refused(client, wechat_mp, wechat, link, monkeypatch):
    import time

    from wuye.portal import wechat_oauth

    _answers(wechat)
    callback = _through_wechat(_tap_pay(client, link)["Location"])
    later = time.time() + wechat_oauth.PENDING_TTL + 1
    monkeypatch.setattr(wechat_oauth.time, "time", lambda: later)
    assert client.get(callback, HTTP_USER_AGENT=WECHAT_IPHONE).status_code == 400
    assert PaymentOrder.objects.count() == 0 and "/sns/oauth2/access_token" not in [r["path"] for r in
                                                                                  wechat_mp.requests]
