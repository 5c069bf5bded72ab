"""The portal's fixtures: keys and a platform certificate made in the test, a local stand-in for the
WeChat Pay API (it signs its answers as the platform does), and notifications signed with the SDKs' own code.

Nothing reaches the internet and no key is ever written into the repository.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wuye.portal.sandbox import Keys, make_keys, pem_private, pem_public, sign_headers  # noqa: F401

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
APIV3_KEY = "0123456789abcdefghijklmnopqrstuv"  # 32 bytes, as WeChat requires
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
ALIPAY_APPID = "2021000000000001"
MP_APPID = "wx8a3c5e7f9b1d2e4f"  # the company's service account (公众号); not WECHATPAY_APPID, on purpose
MP_SECRET = "3f1c0a9e8b7d6c5f4e3d2c1b0a9f8e7d"
OPENID = "oX9kT2vQ7mLpR4sW8yZ1bC3dF5gH"  # the payer's openid for MP_APPID


# Keys and WeChat's signature headers: the same code the demo's sandbox uses (wuye.portal.sandbox).
_pem_private, _pem_public = pem_private, pem_public


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("paykeys"))


# --- a local WeChat Pay API ----------------------------------------------------------------------------

@dataclass
class Captured:
    method: str
    path: str  # with the query, exactly as signed
    headers: dict[str, str]
    body: str


@dataclass
class FakeWeChat:
    """Answers like api.mch.weixin.qq.com: JSON signed with the platform key. ``answers`` maps a path prefix
    to (status, dict) — the first matching prefix in insertion order — or (status, dict, key) to sign that
    answer with another key (a forged answer); a dict of None is an empty body (204 No Content, as WeChat
    answers a close). ``requests`` records what came in."""

    keys: Keys
    requests: list[Captured] = field(default_factory=list)
    answers: dict[str, tuple[int, dict]] = field(default_factory=dict)
    signer: object = None  # another key to sign answers with (a forged answer)

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                fake.requests.append(Captured(self.command, self.path, {k.lower(): v for k, v in
                                                                         self.headers.items()}, body))
                answer = next((a for p, a in fake.answers.items() if self.path.startswith(p)),
                              (404, {"code": "NOT_FOUND", "message": "no answer scripted"}))
                status, payload = answer[:2]
                signer = answer[2] if len(answer) > 2 else fake.signer
                text = "" if payload is None else json.dumps(payload)
                stamp, nonce = str(int(time.time())), secrets.token_hex(16)
                self.send_response(status)
                if payload is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(text.encode())))
                for k, v in sign_headers(fake.keys, text, stamp=stamp, nonce=nonce, private=signer).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(text.encode())

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def wechat(keys, settings):
    """WeChat Pay configured with the test keys and pointed at a local server."""
    fake = FakeWeChat(keys).start()
    settings.WECHATPAY_MCHID = MCHID
    settings.WECHATPAY_APPID = APPID
    settings.WECHATPAY_APIV3_KEY = APIV3_KEY
    settings.WECHATPAY_CERT_SERIAL_NO = MERCHANT_SERIAL
    settings.WECHATPAY_PRIVATE_KEY_FILE = keys.path("apiclient_key.pem")
    settings.WECHATPAY_PLATFORM_CERT_FILE = keys.path("wechatpay_platform.pem")
    settings.WECHATPAY_API_BASE = fake.url
    yield fake
    fake.close()


@pytest.fixture
def alipay(keys, settings):
    settings.ALIPAY_APPID = ALIPAY_APPID
    settings.ALIPAY_PRIVATE_KEY_FILE = keys.path("alipay_app_private.pem")
    settings.ALIPAY_PUBLIC_KEY_FILE = keys.path("alipay_public.pem")
    settings.ALIPAY_GATEWAY = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
    return keys


def wechat_notification(keys: Keys, *, out_trade_no: str, amount_fen: int, transaction_id: str = "",
                        stamp: int | None = None, trade_state: str = "SUCCESS", signer=None,
                        apiv3_key: str = APIV3_KEY, appid: str = APPID,
                        trade_type: str = "NATIVE") -> tuple[dict[str, str], str]:
    """A TRANSACTION.SUCCESS notification as WeChat sends it: the resource encrypted with AES-256-GCM under
    the APIv3 key, the body signed with the platform key."""
    resource = {
        "mchid": MCHID, "appid": appid, "out_trade_no": out_trade_no,
        "transaction_id": transaction_id or f"4200{secrets.randbelow(10**24):024d}", "trade_type": trade_type,
        "trade_state": trade_state, "trade_state_desc": "支付成功", "bank_type": "OTHERS",
        "success_time": dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds"),
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": amount_fen, "payer_total": amount_fen, "currency": "CNY", "payer_currency": "CNY"},
    }
    nonce = secrets.token_hex(6)  # 12 characters, as WeChat uses
    ad = "transaction"
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), json.dumps(resource).encode(), ad.encode())
    body = json.dumps({
        "id": secrets.token_hex(18), "create_time": resource["success_time"], "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
        "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": base64.b64encode(ciphertext).decode(), "associated_data": ad, "nonce": nonce},
    }, ensure_ascii=False)
    stamp = int(time.time()) if stamp is None else stamp
    headers = sign_headers(keys, body, stamp=str(stamp), nonce=secrets.token_hex(16), private=signer)
    return headers, body


def as_meta(headers: dict[str, str]) -> dict[str, str]:
    """Headers for Django's test client."""
    return {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}


def post_wechat(client, headers, body):
    return client.post("/api/v1/pay/wechat/notify/", data=body, content_type="application/json",
                       **as_meta(headers))


def alipay_notification(keys: Keys, *, out_trade_no: str, amount: str, trade_no: str = "",
                        trade_status: str = "TRADE_SUCCESS", signer=None,
                        notify_time: dt.datetime | None = None) -> dict[str, str]:
    """An Alipay asynchronous notification's form, signed RSA2 with Alipay's key by the SDK's own signer.
    ``notify_time`` (default now) is written in Beijing time, as Alipay does."""
    from alipay import AliPay

    beijing = dt.timezone(dt.timedelta(hours=8))
    sent = (notify_time or dt.datetime.now(dt.UTC)).astimezone(beijing)
    params = {
        "notify_time": sent.strftime("%Y-%m-%d %H:%M:%S"), "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16), "app_id": ALIPAY_APPID, "charset": "utf-8", "version": "1.0",
        "trade_no": trade_no or f"2026{secrets.randbelow(10**24):024d}", "out_trade_no": out_trade_no,
        "trade_status": trade_status, "total_amount": amount, "receipt_amount": amount,
        "buyer_pay_amount": amount, "gmt_create": "2026-11-23 10:00:00", "gmt_payment": "2026-11-23 10:00:05",
        "seller_id": "2088000000000000", "subject": "物业费",
    }
    platform = AliPay(appid=ALIPAY_APPID, app_private_key_string=_pem_private(signer or keys.alipay_platform),
                      alipay_public_key_string=_pem_public(keys.alipay_app))
    raw = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["sign"] = platform._sign(raw)
    params["sign_type"] = "RSA2"
    return params


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def link(alice, arrears_estate):
    """A live pay link for unit 1-101 (owner 业主001, phone 13800000001) with January–July 2026 unpaid."""
    from wuye.portal.links import link_create

    unit = arrears_estate["units"][0]
    row, token = link_create(unit=unit, actor=alice)
    return {"row": row, "token": token, "unit": unit, "url": f"/p/{token}/"}


def order_for(link, provider="wechat", **kw):
    from wuye.portal.services import order_create

    return order_create(link=link["row"], provider=provider, **kw)


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))


# --- a local Alipay gateway -------------------------------------------------------------------------------

@dataclass
class FakeAlipay:
    """Answers like openapi.alipay.com/gateway.do: checks the request's RSA2 signature with our app's public
    key (over the sorted parameters without ``sign``, as Alipay does), then answers ``{"<method>_response":
    {...}, "sign": ...}`` signed with Alipay's key by the SDK's own signer. ``answers`` maps a method name to
    the response object; a badly signed request gets Alipay's 40002 invalid-signature answer."""

    keys: Keys
    requests: list[dict] = field(default_factory=list)
    answers: dict[str, dict] = field(default_factory=dict)
    signer: object = None  # another key to sign answers with (a forged answer)

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query, keep_blank_values=True))
                verified = fake.verify(params)
                fake.requests.append({**params, "_verified": verified})
                method = params.get("method", "")
                response_type = method.replace(".", "_") + "_response"
                if not verified:
                    payload = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature",
                               "sub_msg": "验签出错"}
                else:
                    payload = fake.answers.get(method, {"code": "40004", "msg": "Business Failed",
                                                        "sub_code": "ACQ.SYSTEM_ERROR", "sub_msg": "未设置应答"})
                content = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
                text = f'{{"{response_type}":{content},"sign":"{fake.sign(content)}"}}'.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html;charset=utf-8")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/gateway.do"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def verify(self, params: dict[str, str]) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric import padding

        data = dict(params)
        try:
            signature = base64.b64decode(data.pop("sign", ""))
        except ValueError:
            return False
        message = "&".join(f"{k}={v}" for k, v in sorted(data.items())).encode()
        try:
            self.keys.alipay_app.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return data.get("app_id") == ALIPAY_APPID

    def sign(self, content: str) -> str:
        from alipay import AliPay

        platform = AliPay(appid=ALIPAY_APPID, app_private_key_string=_pem_private(self.signer or
                                                                                  self.keys.alipay_platform),
                          alipay_public_key_string=_pem_public(self.keys.alipay_app))
        return platform._sign(content)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def alipay_gateway(alipay, keys, settings):
    """Alipay configured with the test keys and pointed at a local gateway."""
    fake = FakeAlipay(keys).start()
    settings.ALIPAY_GATEWAY = fake.url
    yield fake
    fake.close()


def assert_signed_by_merchant(keys: Keys, sent: Captured) -> None:
    """A request to the WeChat Pay API carries the SDK's Authorization header: recompute the message
    (``method\npath\ntimestamp\nnonce\nbody\n``) and verify it with the merchant's public key."""
    import re

    from cryptography.hazmat.primitives.asymmetric import padding

    auth = sent.headers["authorization"]
    assert auth.startswith("WECHATPAY2-SHA256-RSA2048 ")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
    assert fields["mchid"] == MCHID and fields["serial_no"] == MERCHANT_SERIAL
    assert abs(int(fields["timestamp"]) - time.time()) < 60
    message = f"{sent.method}\n{sent.path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{sent.body}\n".encode()
    keys.merchant.public_key().verify(base64.b64decode(fields["signature"]), message, padding.PKCS1v15(),
                                      hashes.SHA256())


# --- a local WeChat 网页授权 (OAuth) -----------------------------------------------------------------------

@dataclass
class FakeWeChatOAuth:
    """Answers like open.weixin.qq.com's authorize page (snsapi_base is silent: straight back to
    ``redirect_uri`` with ``code`` and ``state``) and api.weixin.qq.com's ``sns/oauth2/access_token`` (the
    AppID and AppSecret must be ours; ``codes`` maps a code to its answer, any other code gets 40029).
    ``requests`` records every request's path and query."""

    secret: str
    codes: dict[str, dict] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)
    next_code: str = "CODE_OK"
    status: int = 200  # of the token endpoint's answers

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                split = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
                fake.requests.append({"path": split.path, "order": [k for k, _ in
                                                                    urllib.parse.parse_qsl(split.query)], **query})
                if split.path == "/connect/oauth2/authorize":
                    target = query["redirect_uri"]
                    target += ("&" if "?" in target else "?") + urllib.parse.urlencode(
                        {"code": fake.next_code, "state": query.get("state", "")})
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if split.path != "/sns/oauth2/access_token":
                    answer = {"errcode": 404, "errmsg": "not found"}
                elif query.get("appid") != MP_APPID or query.get("secret") != fake.secret:
                    answer = {"errcode": 40125, "errmsg": "invalid appsecret"}
                elif query.get("grant_type") != "authorization_code":
                    answer = {"errcode": 40002, "errmsg": "invalid grant_type"}
                else:
                    answer = fake.codes.get(query.get("code", ""), {"errcode": 40029, "errmsg": "invalid code"})
                text = json.dumps(answer).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json; encoding=utf-8")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def wechat_mp(wechat, settings, tmp_path):
    """WeChat Pay (the ``wechat`` fixture) plus the service account: its AppSecret in a file, the OAuth
    endpoints pointed at a local stand-in that knows the code ``CODE_OK`` (openid ``OPENID``)."""
    fake = FakeWeChatOAuth(MP_SECRET).start()
    fake.codes["CODE_OK"] = {"access_token": "ACCESS_TOKEN_NOT_KEPT", "expires_in": 7200,
                             "refresh_token": "REFRESH_NOT_KEPT", "openid": OPENID, "scope": "snsapi_base",
                             "is_snapshotuser": 0}
    secret_file = tmp_path / "wechat_mp_secret"
    secret_file.write_text(MP_SECRET + "\n")
    settings.WECHAT_MP_APPID = MP_APPID
    settings.WECHAT_MP_SECRET_FILE = str(secret_file)
    settings.WECHAT_MP_AUTHORIZE_URL = fake.url + "/connect/oauth2/authorize"
    settings.WECHAT_MP_TOKEN_URL = fake.url + "/sns/oauth2/access_token"
    settings.WUYE_PAY_NOTIFY_BASE = "https://wuye.example.cn"
    yield fake
    fake.close()
