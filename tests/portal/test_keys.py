"""Merchant keys and the platforms' certificates/public keys are files named by settings, read when used —
never stored in the repository. A named file that cannot be read is a configuration error that owners see as
"not available" (no traceback, no path) and operations see in the log; a notification is refused with 503
(the provider retries) and recorded."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from wuye.billing.models import Payment
from wuye.portal import providers
from wuye.portal.choices import NotificationResult, OrderStatus
from wuye.portal.models import PaymentNotification, PaymentOrder

from .conftest import _pem_private, new_key, post_wechat, wechat_notification

REPO = Path(__file__).resolve().parents[2]


def test_no_private_key_or_certificate_is_in_the_repository():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    offenders = []
    for name in filter(None, files):
        path = REPO / name.decode()
        if path.suffix in (".png", ".ttf", ".otf", ".pdf", ".xlsx", ".woff2", ".ico") or not path.is_file():
            continue
        text = path.read_bytes()
        if b"-----BEGIN" + b" PRIVATE KEY-----" in text or b"-----BEGIN RSA" + b" PRIVATE KEY-----" in text \
                or b"-----BEGIN" + b" CERTIFICATE-----" in text:
            offenders.append(name.decode())
    assert offenders == []


def test_the_keys_are_read_from_the_files_the_settings_name(wechat, keys, link, settings, tmp_path):
    """Point the setting at another file and the SDK signs with that key: the file is read when used."""
    import base64
    import re

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    other = new_key()
    (tmp_path / "other.pem").write_text(_pem_private(other))
    settings.WECHATPAY_PRIVATE_KEY_FILE = str(tmp_path / "other.pem")
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=K1"})
    from .conftest import order_for

    order_for(link)
    sent = wechat.requests[-1]
    fields = dict(re.findall(r'(\w+)="([^"]*)"', sent.headers["authorization"]))
    message = f"POST\n{sent.path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{sent.body}\n".encode()
    other.public_key().verify(base64.b64decode(fields["signature"]), message, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("setting", ["WECHATPAY_PRIVATE_KEY_FILE", "WECHATPAY_PLATFORM_CERT_FILE"])
def test_an_unreadable_wechat_key_file_gives_a_clear_message_not_a_crash(client, wechat, link, settings, tmp_path,
                                                                         caplog, setting):
    setattr(settings, setting, str(tmp_path / "missing.pem"))
    with caplog.at_level(logging.ERROR, logger="wuye.portal"):
        response = client.post(f"{link['url']}pay/", {"provider": "wechat"}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200 and "未能发起支付：微信支付配置有误，暂不能在线支付" in page
    assert "missing.pem" not in page and str(tmp_path) not in page
    assert any(setting in r.getMessage() and "missing.pem" in r.getMessage() for r in caplog.records)
    assert wechat.requests == [] and not PaymentOrder.objects.exclude(status=OrderStatus.CLOSED).exists()


def test_an_unreadable_alipay_key_file_gives_a_clear_message(client, alipay, link, settings, tmp_path):
    settings.ALIPAY_PUBLIC_KEY_FILE = str(tmp_path / "gone.pem")
    page = client.post(f"{link['url']}pay/", {"provider": "alipay"}, follow=True).content.decode()
    assert "未能发起支付：支付宝配置有误，暂不能在线支付" in page and "gone.pem" not in page
    with pytest.raises(providers.NotConfigured):
        providers.alipay_query("WY1")


def test_a_notification_while_the_platform_certificate_is_unreadable_is_refused_and_recorded(
        client, wechat, keys, link, settings, tmp_path):
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=K2"})
    from .conftest import order_for

    order = order_for(link)
    settings.WECHATPAY_PLATFORM_CERT_FILE = str(tmp_path / "missing.pem")
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    response = post_wechat(client, headers, body)
    assert response.status_code == 503 and response.json()["code"] == "FAIL"  # WeChat will send it again
    note = PaymentNotification.objects.get()
    assert note.result == NotificationResult.REJECTED_MALFORMED and "配置有误" in note.detail
    assert not Payment.objects.exists()


def test_the_sdk_clients_are_kept_until_a_key_or_setting_changes(wechat, alipay, settings, tmp_path):
    """Loading an RSA private key costs 40–100 ms (the key check): a client is built once per process for the
    same settings and key files, and again when either changes — a key file rewritten in place included."""
    first = providers.wechat_client()
    assert providers.wechat_client() is first
    assert providers.alipay_client() is providers.alipay_client()

    path = tmp_path / "merchant.pem"
    path.write_text(_pem_private(new_key()))
    settings.WECHATPAY_PRIVATE_KEY_FILE = str(path)
    second = providers.wechat_client()
    assert second is not first and providers.wechat_client() is second
    path.write_text(_pem_private(new_key()))  # the operator replaces the key in the same file
    assert providers.wechat_client() is not second

    settings.WECHATPAY_API_BASE = "http://127.0.0.1:9/other"
    assert providers.wechat_client()._core._gate_way == "http://127.0.0.1:9/other"
    old_alipay = providers.alipay_client()
    settings.ALIPAY_GATEWAY = "http://127.0.0.1:9/gateway.do"
    assert providers.alipay_client() is not old_alipay
    assert providers.alipay_client()._gateway == "http://127.0.0.1:9/gateway.do"


def test_a_key_file_rewritten_in_place_signs_the_next_order(wechat, keys, link, settings, tmp_path):
    import base64
    import re

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from .conftest import order_for

    path = tmp_path / "merchant.pem"
    path.write_text(_pem_private(new_key()))
    settings.WECHATPAY_PRIVATE_KEY_FILE = str(path)
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=K1"})
    order_for(link)  # the client for the first key is built and kept
    other = new_key()
    path.write_text(_pem_private(other))
    PaymentOrder.objects.update(status=OrderStatus.CLOSED)
    order_for(link)
    sent = wechat.requests[-1]
    fields = dict(re.findall(r'(\w+)="([^"]*)"', sent.headers["authorization"]))
    message = f"POST\n{sent.path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{sent.body}\n".encode()
    other.public_key().verify(base64.b64decode(fields["signature"]), message, padding.PKCS1v15(), hashes.SHA256())
