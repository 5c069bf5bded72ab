"""WeChat Pay v3 and Alipay through their maintained SDKs (``wechatpayv3``, ``python-alipay-sdk``).

Everything cryptographic is the SDKs' own code: request signing, response and notification verification,
AES-GCM decryption. What the SDKs leave to us is here: the base URL (so tests and the demo point the real
SDK at a local server), the signed-timestamp window (the WeChat SDK checks none), and never letting the
WeChat SDK fetch certificates over the network on an unknown serial number.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings

from wuye.common.formatting import fen_to_yuan

log = logging.getLogger(__name__)


class ProviderError(Exception):
    """The provider could not be reached or refused the request; ``message`` is for staff and owners."""


class NotConfigured(ProviderError):
    pass


class Refused(ProviderError):
    """The provider answered and said no (WeChat: a non-2xx answer; Alipay: a signed answer whose code is not
    10000). ``code`` is the provider's error code (``ORDERPAID``, ``RESOURCE_NOT_EXISTS``, ``ACQ.…``)."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


class VerificationFailed(ProviderError):
    """The provider's answer came back but its signature is not the provider's (a wrong public key or
    certificate in settings, or someone in the middle): nothing in it may be trusted. Not a connection
    problem, and never shown as one."""


PROVIDER_LABEL = {"WECHATPAY": "微信支付", "ALIPAY": "支付宝"}

# Loading an RSA private key checks it (OpenSSL's key check, pycryptodome's import): 40–100 ms of CPU each
# time, more than all the rest of placing an order or receiving a notification. The SDK clients are kept
# per process, keyed by everything they were built from (settings and the key files' text, which is read
# on every use: a replaced key file or changed setting still takes effect at once).
_CLIENTS: dict[tuple, object] = {}
_CLIENTS_MAX = 8


def _kept(key: tuple, build):
    client = _CLIENTS.get(key)
    if client is None:
        client = build()
        if len(_CLIENTS) >= _CLIENTS_MAX:  # settings changed many times (tests): start again
            _CLIENTS.clear()
        _CLIENTS[key] = client
    return client


def _read(setting: str) -> str:
    """The text of the key/certificate file named by ``settings.<setting>``, read when used (a replaced file
    takes effect at once). A file that cannot be read is a configuration error: operations get the setting
    and path in the log; owners and providers get NotConfigured, which names neither."""
    path = getattr(settings, setting)
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        log.error("payment key file unreadable: %s=%s (%s)", setting, path, exc)
        raise _misconfigured(setting) from exc


def _misconfigured(setting: str) -> NotConfigured:
    label = PROVIDER_LABEL[setting.split("_", 1)[0]]
    return NotConfigured(f"{label}配置有误，暂不能在线支付，请到服务中心或用其他方式缴费。")


# --- WeChat Pay v3 ------------------------------------------------------------------------------------

def wechat_configured() -> bool:
    s = settings
    platform = bool(s.WECHATPAY_PLATFORM_CERT_FILE) or bool(s.WECHATPAY_PUBLIC_KEY_FILE and s.WECHATPAY_PUBLIC_KEY_ID)
    return bool(s.WECHATPAY_MCHID and s.WECHATPAY_APPID and s.WECHATPAY_APIV3_KEY and s.WECHATPAY_CERT_SERIAL_NO
                and s.WECHATPAY_PRIVATE_KEY_FILE and platform)


def _wechat_platform_key() -> tuple[str, str]:
    """(public key PEM, id) of the platform: from the public key file, or from the platform certificate
    (its serial number in upper-case hex is then the id WeChat puts in ``Wechatpay-Serial``)."""
    if settings.WECHATPAY_PUBLIC_KEY_FILE and settings.WECHATPAY_PUBLIC_KEY_ID:
        return _read("WECHATPAY_PUBLIC_KEY_FILE"), settings.WECHATPAY_PUBLIC_KEY_ID
    text = _read("WECHATPAY_PLATFORM_CERT_FILE")
    return _kept(("wechat-platform-cert", text), lambda: _platform_cert_key(text))


def _platform_cert_key(text: str) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        log.error("WECHATPAY_PLATFORM_CERT_FILE=%s is not a PEM certificate (%s)",
                  settings.WECHATPAY_PLATFORM_CERT_FILE, exc)
        raise _misconfigured("WECHATPAY_PLATFORM_CERT_FILE") from exc
    pem = cert.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    return pem, format(cert.serial_number, "X")


def wechat_client():
    if not wechat_configured():
        raise NotConfigured("微信支付未配置。")
    from wechatpayv3 import WeChatPay, WeChatPayType

    public_key, public_key_id = _wechat_platform_key()
    private_key = _read("WECHATPAY_PRIVATE_KEY_FILE")
    s = settings
    made_of = (s.WECHATPAY_MCHID, private_key, s.WECHATPAY_CERT_SERIAL_NO, s.WECHATPAY_APPID, s.WECHATPAY_APIV3_KEY,
               notify_url("wechat"), s.WUYE_PAY_TIMEOUT_SECONDS, public_key, public_key_id,
               s.WECHATPAY_API_BASE.rstrip("/"))

    def build():
        try:
            client = WeChatPay(
                wechatpay_type=WeChatPayType.NATIVE, mchid=made_of[0], private_key=private_key,
                cert_serial_no=made_of[2], appid=made_of[3], apiv3_key=made_of[4], notify_url=made_of[5],
                timeout=(5, made_of[6]), public_key=public_key, public_key_id=public_key_id)
        except (ValueError, TypeError) as exc:  # a file that is not a PEM key
            log.error("wechat pay keys unusable: %s", exc)
            raise _misconfigured("WECHATPAY_PRIVATE_KEY_FILE") from exc
        client._core._gate_way = made_of[9]  # the SDK has no parameter for it
        return client

    return _kept(("wechat",) + made_of, build)


def notify_url(provider: str) -> str:
    from django.urls import reverse

    return settings.WUYE_PAY_NOTIFY_BASE.rstrip("/") + reverse(f"pay-{provider}-notify")


WECHAT_BAD_SIGNATURE = "failed to verify the signature"  # wechatpayv3.core raises Exception with this text


def _wechat_call(fn, *args, **kwargs) -> dict:
    try:
        code, text = fn(*args, **kwargs)
    except Exception as exc:  # the SDK raises plain Exception, also for a bad response signature
        if str(exc) == WECHAT_BAD_SIGNATURE:
            log.error("wechat pay answer failed signature verification")
            raise VerificationFailed("微信支付应答验签失败（应答不是微信支付平台的签名），未采信。") from exc
        log.warning("wechat pay call failed: %s", exc)
        raise ProviderError("微信支付暂时无法连接，请稍后再试。") from exc
    try:
        data = json.loads(text) if text else {}
    except (TypeError, ValueError):
        data = {}
    if not 200 <= code < 300:
        log.warning("wechat pay refused: %s %s", code, text)
        raise Refused(f"微信支付拒绝了请求：{data.get('message') or code}", str(data.get("code") or code))
    return data


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds")


def jsapi_configured() -> bool:
    """微信内支付 needs WeChat Pay plus the service account (公众号) whose openids the payers have."""
    return wechat_configured() and bool(settings.WECHAT_MP_APPID and settings.WECHAT_MP_SECRET_FILE)


def wechat_appids() -> set[str]:
    """The app ids our orders carry: WeChat Pay's, and the service account's for JSAPI orders (the same id
    when the merchant is bound to the company's service account)."""
    return {a for a in (settings.WECHATPAY_APPID, settings.WECHAT_MP_APPID) if a}


def wechat_order(*, out_trade_no: str, description: str, amount_fen: int, channel: str, expires_at: dt.datetime,
                 client_ip: str = "", openid: str = "") -> dict:
    """Place the order: Native gives ``code_url`` (for a QR code), H5 ``h5_url``, JSAPI ``prepay_id``.

    A JSAPI order carries the service account's app id: the payer's openid belongs to that account."""
    from wechatpayv3 import WeChatPayType

    pay_type = {"native": WeChatPayType.NATIVE, "h5": WeChatPayType.H5, "jsapi": WeChatPayType.JSAPI}[channel]
    extra: dict = {}
    if channel == "h5":
        extra["scene_info"] = {"payer_client_ip": client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}}
    if channel == "jsapi":
        if not (openid and settings.WECHAT_MP_APPID):
            raise NotConfigured("微信内支付需要公众号授权，请改用二维码支付。")
        extra["payer"] = {"openid": openid}
        extra["appid"] = settings.WECHAT_MP_APPID
    client = wechat_client()
    return _wechat_call(client.pay, description=description, out_trade_no=out_trade_no,
                        amount={"total": amount_fen, "currency": "CNY"}, time_expire=_rfc3339(expires_at),
                        pay_type=pay_type, **extra)


def wechat_jsapi_params(prepay_id: str) -> dict[str, str]:
    """What the page hands to ``WeixinJSBridge.invoke('getBrandWCPayRequest', …)``: signed RSA-SHA256 with the
    merchant key by the SDK's own ``sign`` over ``appId\ntimeStamp\nnonceStr\npackage\n`` (local, no
    network). Made fresh for each page view; the prepay_id stays valid for two hours."""
    client = wechat_client()
    params = {"appId": settings.WECHAT_MP_APPID, "timeStamp": str(int(time.time())),
              "nonceStr": secrets.token_hex(16), "package": f"prepay_id={prepay_id}", "signType": "RSA"}
    params["paySign"] = client.sign([params["appId"], params["timeStamp"], params["nonceStr"], params["package"]])
    return params


def wechat_query(out_trade_no: str) -> dict:
    client = wechat_client()
    return _wechat_call(client.query, out_trade_no=out_trade_no)


def wechat_refund(*, out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int, reason: str) -> dict:
    client = wechat_client()
    return _wechat_call(client.refund, out_refund_no=out_refund_no, out_trade_no=out_trade_no, reason=reason[:80],
                        amount={"refund": refund_fen, "total": total_fen, "currency": "CNY"})


def wechat_close(out_trade_no: str) -> None:
    """关闭订单: the order can no longer be paid. WeChat answers 204 (signed, verified by the SDK); an order
    already paid is refused (``Refused``, e.g. code ``ORDERPAID``) — the caller then queries it."""
    client = wechat_client()
    _wechat_call(client.close, out_trade_no=out_trade_no)


def wechat_refund_query(out_refund_no: str) -> dict | None:
    """查询单笔退款: the refund's verified record, or None when WeChat has no refund of that number
    (``RESOURCE_NOT_EXISTS``: the refund request never arrived or was not accepted)."""
    client = wechat_client()
    try:
        return _wechat_call(client.query_refund, out_refund_no=out_refund_no)
    except Refused as exc:
        if exc.code == "RESOURCE_NOT_EXISTS":
            return None
        raise


@dataclass
class Verified:
    """A notification whose signature checked out, with what it says."""

    ok: bool
    reason: str = ""  # why not, for the record: "signature", "stale", "malformed"
    data: dict | None = None  # the decrypted resource (WeChat) or the form (Alipay)
    event_id: str = ""


def wechat_verify(headers: dict[str, str], body: str, *, now: dt.datetime) -> Verified:
    """Check the timestamp window and the serial ourselves, then let the SDK verify the signature over
    ``timestamp\\nnonce\\nbody\\n`` and decrypt the AES-GCM resource with the APIv3 key.

    ``headers`` use the provider's names (``Wechatpay-Signature`` …), any case."""
    h = {k.lower(): v for k, v in headers.items()}
    try:
        stamp = int(h.get("wechatpay-timestamp", ""))
    except ValueError:
        return Verified(False, "malformed")
    if abs(now.timestamp() - stamp) > settings.WUYE_PAY_CLOCK_SKEW_SECONDS:
        return Verified(False, "stale")
    client = wechat_client()
    _, key_id = _wechat_platform_key()
    serial = h.get("wechatpay-serial", "").strip()
    if not _same_serial(serial, key_id):
        # the SDK would go and download certificates for an unknown serial: we never let it
        return Verified(False, "signature")
    sdk_headers = {
        "Wechatpay-Signature": h.get("wechatpay-signature", ""), "Wechatpay-Timestamp": str(stamp),
        "Wechatpay-Nonce": h.get("wechatpay-nonce", ""), "Wechatpay-Serial": key_id,
        "Wechatpay-Signature-Type": h.get("wechatpay-signature-type", "WECHATPAY2-SHA256-RSA2048"),
    }
    try:
        result = client.callback(sdk_headers, body)
    except Exception:  # unsupported algorithm or a body that is not JSON
        return Verified(False, "malformed")
    if not result:
        # the SDK returns None for a bad signature and for a resource that does not decrypt
        return Verified(False, "signature")
    resource = result.get("resource")
    if not isinstance(resource, dict):
        return Verified(False, "malformed")
    return Verified(True, data=resource, event_id=str(result.get("id", ""))[:100])


def _same_serial(given: str, expected: str) -> bool:
    if given == expected:
        return True
    try:
        return int(given, 16) == int(expected, 16)
    except ValueError:
        return False


# --- Alipay -------------------------------------------------------------------------------------------

def alipay_configured() -> bool:
    s = settings
    return bool(s.ALIPAY_APPID and s.ALIPAY_PRIVATE_KEY_FILE and s.ALIPAY_PUBLIC_KEY_FILE)


def alipay_client():
    if not alipay_configured():
        raise NotConfigured("支付宝未配置。")
    from alipay import AliPay
    from alipay.utils import AliPayConfig

    private_key, public_key = _read("ALIPAY_PRIVATE_KEY_FILE"), _read("ALIPAY_PUBLIC_KEY_FILE")
    s = settings
    made_of = (s.ALIPAY_APPID, notify_url("alipay"), private_key, public_key, s.WUYE_PAY_TIMEOUT_SECONDS,
               s.ALIPAY_GATEWAY)

    def build():
        try:
            client = AliPay(appid=made_of[0], app_notify_url=made_of[1], app_private_key_string=private_key,
                            alipay_public_key_string=public_key, sign_type="RSA2",
                            config=AliPayConfig(timeout=made_of[4]))
        except (ValueError, TypeError) as exc:  # a file that is not a PEM key
            log.error("alipay keys unusable: %s", exc)
            raise _misconfigured("ALIPAY_PRIVATE_KEY_FILE") from exc
        client._gateway = made_of[5]  # the SDK only knows production and its sandbox
        return client

    return _kept(("alipay",) + made_of, build)


def yuan_text(fen: int) -> str:
    """Alipay amounts: yuan with two decimals, from integer fen (no float anywhere)."""
    return f"{fen_to_yuan(fen):.2f}"


def fen_from_yuan_text(text: str) -> int | None:
    try:
        value = Decimal(text)
    except (ArithmeticError, TypeError, ValueError):
        return None
    fen = value * 100
    if fen != fen.to_integral_value():
        return None
    return int(fen)


def alipay_pay_url(*, out_trade_no: str, subject: str, amount_fen: int, channel: str, return_url: str,
                   expires_at: dt.datetime) -> str:
    """The signed URL the owner's browser opens (local signing only, no network)."""
    client = alipay_client()
    fn = client.api_alipay_trade_wap_pay if channel == "wap" else client.api_alipay_trade_page_pay
    query = fn(subject=subject, out_trade_no=out_trade_no, total_amount=yuan_text(amount_fen),
               return_url=return_url,
               time_expire=expires_at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S"))
    return f"{settings.ALIPAY_GATEWAY}?{query}"


def alipay_precreate(*, out_trade_no: str, subject: str, amount_fen: int, expires_at: dt.datetime,
                     now: dt.datetime | None = None) -> str:
    """当面付 QR code (``alipay.trade.precreate``): Alipay answers with ``qr_code``, the text of a code the
    owner scans with the Alipay app. The SDK signs the request with our app key and verifies the answer's
    RSA2 signature with Alipay's public key. The order is settled later by the notification or a query."""
    from alipay.exceptions import AliPayException, AliPayValidationError

    client = alipay_client()
    now = now or dt.datetime.now(dt.UTC)
    minutes = max(1, int((expires_at - now).total_seconds() // 60))
    try:
        answer = client.api_alipay_trade_precreate(subject=subject, out_trade_no=out_trade_no,
                                                   total_amount=yuan_text(amount_fen), timeout_express=f"{minutes}m")
    except AliPayValidationError as exc:  # the answer's signature is not Alipay's: never trust its QR code
        log.warning("alipay precreate answer failed verification")
        raise VerificationFailed("支付宝应答验签失败，未生成二维码，请稍后再试或换用其他方式。") from exc
    except AliPayException as exc:  # an unsigned error answer
        log.warning("alipay precreate refused: %s", exc)
        raise ProviderError("支付宝拒绝了请求，请稍后再试或换用其他方式。") from exc
    except Exception as exc:
        log.warning("alipay precreate failed: %s", exc)
        raise ProviderError("支付宝暂时无法连接，请稍后再试。") from exc
    if answer.get("code") != "10000":
        log.warning("alipay precreate not accepted: %s", answer)
        raise ProviderError(f"支付宝拒绝了请求：{answer.get('sub_msg') or answer.get('msg') or answer.get('code')}")
    if answer.get("out_trade_no", out_trade_no) != out_trade_no or not answer.get("qr_code"):
        raise ProviderError("支付宝没有返回收款二维码，请稍后再试。")
    return str(answer["qr_code"])


ALIPAY_TZ = dt.timezone(dt.timedelta(hours=8))  # Alipay writes its times in Beijing time


def alipay_notify_time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=ALIPAY_TZ)
    except (AttributeError, ValueError):
        return None


def alipay_verify(params: dict[str, str], *, now: dt.datetime | None = None) -> Verified:
    """RSA2 verification of an asynchronous notification's form fields (``sign`` and ``sign_type`` left out),
    then the signed ``notify_time`` must be within ``WUYE_PAY_CLOCK_SKEW_SECONDS`` of now, as for WeChat (the
    SDK checks neither): a captured notification cannot be replayed days later."""
    from alipay.exceptions import AliPayException

    data = dict(params)
    signature = data.pop("sign", "")
    if not signature:
        return Verified(False, "signature")
    client = alipay_client()
    try:
        ok = client.verify(dict(data), signature)
    except (AliPayException, ValueError, TypeError):
        return Verified(False, "signature")
    except Exception:  # a signature that is not base64 at all
        return Verified(False, "signature")
    if not ok:
        return Verified(False, "signature")
    data.pop("sign_type", None)
    if data.get("app_id") != settings.ALIPAY_APPID:
        return Verified(False, "malformed")
    sent_at = alipay_notify_time(data.get("notify_time", ""))
    if sent_at is None:
        return Verified(False, "malformed")
    now = now or dt.datetime.now(dt.UTC)
    if abs((now - sent_at).total_seconds()) > settings.WUYE_PAY_CLOCK_SKEW_SECONDS:
        return Verified(False, "stale")
    return Verified(True, data=data, event_id=data.get("notify_id", "")[:100])


def alipay_query(out_trade_no: str) -> dict:
    """``alipay.trade.query``; the SDK verifies the answer's RSA2 signature with Alipay's public key. An answer
    that fails verification raises ``VerificationFailed`` (never trusted, never taken for a network error)."""
    from alipay.exceptions import AliPayException, AliPayValidationError

    client = alipay_client()
    try:
        return client.api_alipay_trade_query(out_trade_no=out_trade_no)
    except AliPayValidationError as exc:
        log.error("alipay query answer for %s failed signature verification", out_trade_no)
        raise VerificationFailed("支付宝查单应答验签失败（应答不是支付宝的签名），未采信。") from exc
    except AliPayException as exc:
        raise ProviderError(f"支付宝查单失败：{exc}") from exc
    except Exception as exc:
        raise ProviderError("支付宝暂时无法连接，请稍后再试。") from exc


def _alipay_call(what: str, fn, **kwargs) -> dict:
    """One synchronous Alipay call whose answer the SDK verifies (RSA2 with Alipay's public key)."""
    from alipay.exceptions import AliPayException, AliPayValidationError

    try:
        return fn(**kwargs)
    except AliPayValidationError as exc:
        log.error("alipay %s answer failed signature verification", what)
        raise VerificationFailed(f"支付宝{what}应答验签失败（应答不是支付宝的签名），未采信。") from exc
    except AliPayException as exc:
        raise ProviderError(f"支付宝{what}失败：{exc}") from exc
    except Exception as exc:
        raise ProviderError("支付宝暂时无法连接，请稍后再试。") from exc


def alipay_close(out_trade_no: str) -> None:
    """``alipay.trade.close``: the trade can no longer be paid. A trade Alipay does not know yet (the owner
    never opened the payment page) has nothing to close (``ACQ.TRADE_NOT_EXIST`` is success here); a paid
    trade is refused (``Refused``, ``ACQ.TRADE_STATUS_ERROR``) — the caller then queries it."""
    answer = _alipay_call("关单", alipay_client().api_alipay_trade_close, out_trade_no=out_trade_no)
    if answer.get("code") == "10000" or answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
        return
    raise Refused(f"支付宝关单未受理：{answer.get('sub_msg') or answer.get('msg') or answer.get('code')}",
                  str(answer.get("sub_code") or answer.get("code") or ""))


def alipay_refund_query(*, out_trade_no: str, out_request_no: str) -> dict | None:
    """``alipay.trade.fastpay.refund.query``: the refund's verified record, or None when Alipay has no refund
    of that request number (Alipay answers 10000 without ``refund_amount``: not refunded)."""
    answer = _alipay_call("退款查询", alipay_client().api_alipay_trade_fastpay_refund_query,
                          out_request_no=out_request_no, out_trade_no=out_trade_no)
    if answer.get("code") != "10000":
        raise Refused(f"支付宝退款查询未受理：{answer.get('sub_msg') or answer.get('msg') or answer.get('code')}",
                      str(answer.get("sub_code") or answer.get("code") or ""))
    if not answer.get("refund_amount") or answer.get("refund_status") not in (None, "", "REFUND_SUCCESS"):
        return None
    return answer


def alipay_refund(*, out_trade_no: str, out_request_no: str, refund_fen: int, reason: str) -> dict:
    from alipay.exceptions import AliPayException, AliPayValidationError

    client = alipay_client()
    try:
        answer = client.api_alipay_trade_refund(refund_amount=yuan_text(refund_fen), out_trade_no=out_trade_no,
                                                out_request_no=out_request_no, refund_reason=reason[:200])
    except AliPayValidationError as exc:
        log.error("alipay refund answer for %s failed signature verification", out_trade_no)
        raise VerificationFailed("支付宝退款应答验签失败（应答不是支付宝的签名），未采信；请向支付宝核实退款是否受理。") from exc
    except AliPayException as exc:
        raise ProviderError(f"支付宝退款失败：{exc}") from exc
    except Exception as exc:
        raise ProviderError("支付宝暂时无法连接，请稍后再试。") from exc
    if answer.get("code") != "10000":
        raise Refused(f"支付宝退款未受理：{answer.get('sub_msg') or answer.get('msg') or answer.get('code')}",
                      str(answer.get("sub_code") or answer.get("code") or ""))
    return answer
