"""Local stand-ins for WeChat Pay and Alipay (沙箱支付) — for the demo and the tests only.

One HTTP server on the loopback answers as api.mch.weixin.qq.com (v3: orders, query, close, refunds; answers
signed with a generated platform key), as the service account's silent 网页授权 for 微信内支付 (JSAPI: the
authorize page sends the browser straight back with a code, the token endpoint turns the code into a sandbox
openid when the AppID and the generated AppSecret are ours) and as Alipay's gateway (precreate, page/wap pay,
query, close, refund; answers signed RSA2 with a generated Alipay key). Each order gets a page on the server
where the demo's owner presses 确认支付: the server then sends the signed notification to the notify URL the
order named, exactly as the provider would, and the portal settles the payment through its ordinary path. Keys
are generated on the machine (never in the repository). ``/sandbox/sms/`` is the demo's SMS inbox: the owner
login codes the file SMS backend wrote. ``WUYE_PAY_SANDBOX`` turns the banner on; a system check
(``wuye.portal.checks``) refuses the sandbox unless every endpoint and host is loopback.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import secrets
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from wuye.common.formatting import fen_to_yuan, format_yuan

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
APIV3_KEY = "0123456789abcdefghijklmnopqrstuv"  # 32 bytes, as WeChat requires; a sandbox value, not a secret
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
ALIPAY_APPID = "2021000000000001"


def pem_private(key) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def pem_public(key) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass
class Keys:
    """Keys made on this machine: ours at each provider and each provider's own (which the stand-in signs with)."""

    dir: Path
    merchant: object  # ours: signs requests to WeChat
    platform: object  # WeChat's: signs answers and notifications
    platform_serial: str  # upper-case hex of the platform certificate
    alipay_app: object  # ours at Alipay
    alipay_platform: object  # Alipay's

    def path(self, name: str) -> str:
        return str(self.dir / name)


def make_keys(directory: Path) -> Keys:
    """Generate the four RSA keys and WeChat's platform certificate, written as PEM files in ``directory``
    (apiclient_key.pem, wechatpay_platform.pem, wechatpay_public_key.pem, alipay_app_private.pem,
    alipay_public.pem — the names the settings point at)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    gen = lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)  # noqa: E731
    merchant, platform, app, ali = gen(), gen(), gen(), gen()
    serial = x509.random_serial_number()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA (sandbox)")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(platform.public_key())
            .serial_number(serial).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365)).sign(platform, hashes.SHA256()))
    from cryptography.hazmat.primitives import serialization

    (directory / "apiclient_key.pem").write_text(pem_private(merchant))
    (directory / "wechatpay_platform.pem").write_text(cert.public_bytes(serialization.Encoding.PEM).decode())
    (directory / "wechatpay_public_key.pem").write_text(pem_public(platform))
    (directory / "alipay_app_private.pem").write_text(pem_private(app))
    (directory / "alipay_public.pem").write_text(pem_public(ali))
    (directory / "wechat_mp_secret").write_text(secrets.token_hex(16) + "\n")  # the service account's AppSecret
    return Keys(directory, merchant, platform, format(serial, "X"), app, ali)


def sign_headers(keys: Keys, body: str, *, stamp: str, nonce: str, private=None) -> dict[str, str]:
    """WeChat's signature headers over ``timestamp\\nnonce\\nbody\\n``, made by the SDK's ``rsa_sign``."""
    from wechatpayv3.utils import rsa_sign

    signature = rsa_sign(private or keys.platform, f"{stamp}\n{nonce}\n{body}\n")
    return {"Wechatpay-Timestamp": stamp, "Wechatpay-Nonce": nonce, "Wechatpay-Signature": signature,
            "Wechatpay-Serial": keys.platform_serial, "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"}


def wechat_notification_body(*, out_trade_no: str, amount_fen: int, transaction_id: str,
                             apiv3_key: str = APIV3_KEY, appid: str = APPID, mchid: str = MCHID,
                             trade_type: str = "NATIVE") -> str:
    """A TRANSACTION.SUCCESS notification's body: the resource encrypted with AES-256-GCM under the APIv3 key."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    resource = {
        "mchid": mchid, "appid": appid, "out_trade_no": out_trade_no, "transaction_id": transaction_id,
        "trade_type": trade_type, "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
        "success_time": dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds"),
        "payer": {"openid": "oSandboxPayer000000000000000"},
        "amount": {"total": amount_fen, "payer_total": amount_fen, "currency": "CNY", "payer_currency": "CNY"},
    }
    nonce, ad = secrets.token_hex(6), "transaction"
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), json.dumps(resource).encode(), ad.encode())
    return json.dumps({
        "id": secrets.token_hex(18), "create_time": resource["success_time"], "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
        "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": base64.b64encode(ciphertext).decode(), "associated_data": ad, "nonce": nonce},
    }, ensure_ascii=False)


def alipay_sign(keys: Keys, text: str, *, signer=None) -> str:
    """RSA2 over ``text`` with Alipay's key, by the SDK's own signer."""
    from alipay import AliPay

    made_of = (pem_private(signer or keys.alipay_platform), pem_public(keys.alipay_app))
    platform = _SIGNERS.get(made_of)
    if platform is None:  # importing the key costs ~50 ms: once per key, not once per notification
        platform = AliPay(appid=ALIPAY_APPID, app_private_key_string=made_of[0], alipay_public_key_string=made_of[1])
        _SIGNERS.clear()
        _SIGNERS[made_of] = platform
    return platform._sign(text)


_SIGNERS: dict[tuple[str, str], object] = {}


def alipay_notification_params(keys: Keys, *, out_trade_no: str, amount: str, trade_no: str) -> dict[str, str]:
    beijing = dt.timezone(dt.timedelta(hours=8))
    now = dt.datetime.now(beijing).strftime("%Y-%m-%d %H:%M:%S")
    params = {
        "notify_time": now, "notify_type": "trade_status_sync", "notify_id": secrets.token_hex(16),
        "app_id": ALIPAY_APPID, "charset": "utf-8", "version": "1.0", "trade_no": trade_no,
        "out_trade_no": out_trade_no, "trade_status": "TRADE_SUCCESS", "total_amount": amount,
        "receipt_amount": amount, "buyer_pay_amount": amount, "gmt_create": now, "gmt_payment": now,
        "seller_id": "2088000000000000", "subject": "物业费",
    }
    params["sign"] = alipay_sign(keys, "&".join(f"{k}={v}" for k, v in sorted(params.items())))
    params["sign_type"] = "RSA2"
    return params


@dataclass
class SandboxOrder:
    provider: str
    out_trade_no: str
    amount_fen: int
    notify_url: str
    description: str = ""
    return_url: str = ""
    paid: bool = False
    trade_no: str = ""
    closed: bool = False


PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>沙箱支付</title>
<style>body{{margin:0;font-family:system-ui,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;background:#f4f6f8}}
.b{{background:#ffc107;padding:.5rem 1rem;text-align:center;font-weight:600}}
.c{{max-width:420px;margin:1rem auto;background:#fff;border-radius:12px;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}}
.a{{font-size:2rem;font-weight:600;margin:.5rem 0}} button,a.btn{{display:block;width:100%;min-height:48px;border:0;
border-radius:8px;font-size:1.1rem;background:{color};color:#fff;text-align:center;line-height:48px;text-decoration:none}}
.m{{color:#6c757d;font-size:.9rem}} @media (max-width:452px){{.c{{margin:1rem}}}}</style></head><body>
<div class="b" data-testid="sandbox-banner">沙箱支付 · 仅供演示，不会扣款</div><div class="c">{body}</div></body></html>"""


class Sandbox:
    """The stand-in server. ``start()`` binds 127.0.0.1 (port 0: any free port) and serves in a thread."""

    def __init__(self, keys: Keys, *, port: int = 0, apiv3_key: str = APIV3_KEY, outbox: Path | None = None):
        self.keys, self.port, self.apiv3_key = keys, port, apiv3_key
        self.outbox = Path(outbox) if outbox else None  # the file SMS backend's folder: the demo's 短信收件箱
        self.orders: dict[str, SandboxOrder] = {}
        self.notifications: list[tuple[str, int]] = []  # (out_trade_no, HTTP status of our notify endpoint)
        self.lock = threading.Lock()
        self.oauth_codes: dict[str, str] = {}  # 网页授权 code → openid, each usable once

    # -- WeChat 网页授权 (snsapi_base) for 微信内支付 ------------------------------------------------------------
    def authorize(self, query: dict[str, str]) -> str | None:
        """The silent authorize page: straight back to ``redirect_uri`` (a loopback URL only) with a fresh code
        and the state as given; ``None`` (a 400) for another app id or a redirect off the loopback."""
        target = query.get("redirect_uri", "")
        host = urllib.parse.urlsplit(target).hostname or ""
        if query.get("appid") != APPID or host not in ("127.0.0.1", "localhost", "::1"):
            return None
        code = "SANDBOX" + secrets.token_hex(12)
        with self.lock:
            self.oauth_codes[code] = "oSandbox" + secrets.token_hex(10)
        sep = "&" if "?" in target else "?"
        return f"{target}{sep}{urllib.parse.urlencode({'code': code, 'state': query.get('state', '')})}"

    def access_token(self, query: dict[str, str]) -> dict:
        """``sns/oauth2/access_token``: the openid for a code this sandbox gave, with our AppID and AppSecret."""
        secret = (self.keys.dir / "wechat_mp_secret").read_text().strip()
        if query.get("appid") != APPID or query.get("secret") != secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        with self.lock:
            openid = self.oauth_codes.pop(query.get("code", ""), "")
        if not openid:
            return {"errcode": 40029, "errmsg": "invalid code"}
        return {"access_token": secrets.token_hex(16), "expires_in": 7200, "refresh_token": secrets.token_hex(16),
                "openid": openid, "scope": "snsapi_base", "is_snapshotuser": 0}

    # -- WeChat Pay v3 ------------------------------------------------------------------------------------
    def wechat(self, method: str, path: str, body: str) -> tuple[int, dict | None]:
        parsed = urllib.parse.urlsplit(path)
        parts = parsed.path.strip("/").split("/")
        if method == "POST" and parsed.path.startswith("/v3/pay/transactions/") and len(parts) == 4:
            data = json.loads(body or "{}")
            no = data.get("out_trade_no", "")
            with self.lock:
                self.orders[no] = SandboxOrder("wechat", no, int(data.get("amount", {}).get("total", 0)),
                                               data.get("notify_url", ""), data.get("description", ""))
            kind = parts[3]
            page = f"{self.url}/sandbox/pay/wechat/{no}"
            if kind == "h5":
                return 200, {"h5_url": page}
            if kind == "jsapi":
                return 200, {"prepay_id": "wx" + secrets.token_hex(14)}
            return 200, {"code_url": page}
        if parsed.path.startswith("/v3/pay/transactions/out-trade-no/"):
            no = parts[4] if len(parts) > 4 else ""
            order = self.orders.get(no)
            if method == "POST" and parsed.path.endswith("/close"):
                if order:
                    order.closed = True
                return 204, None
            if order is None:
                return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
            state = "SUCCESS" if order.paid else ("CLOSED" if order.closed else "NOTPAY")
            answer = {"mchid": MCHID, "appid": APPID, "out_trade_no": no, "trade_state": state,
                      "trade_state_desc": {"SUCCESS": "支付成功", "CLOSED": "已关闭", "NOTPAY": "未支付"}[state],
                      "trade_type": "NATIVE"}
            if order.paid:
                answer.update(transaction_id=order.trade_no, success_time=dt.datetime.now(
                    dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds"),
                    amount={"total": order.amount_fen, "payer_total": order.amount_fen, "currency": "CNY",
                            "payer_currency": "CNY"})
            return 200, answer
        if parsed.path.startswith("/v3/refund/domestic/refunds"):
            data = json.loads(body or "{}") if body else {}
            no = data.get("out_refund_no") or (parts[-1] if len(parts) > 4 else "")
            total = data.get("amount", {}).get("refund", 0)
            return 200, {"refund_id": "50" + secrets.token_hex(12), "out_refund_no": no, "status": "SUCCESS",
                         "amount": {"refund": total, "total": data.get("amount", {}).get("total", total),
                                    "currency": "CNY"}}
        return 404, {"code": "NOT_FOUND", "message": "沙箱未实现该接口"}

    # -- Alipay gateway -----------------------------------------------------------------------------------
    def alipay(self, params: dict[str, str]) -> tuple[str, dict] | str:
        method = params.get("method", "")
        biz = json.loads(params.get("biz_content") or "{}")
        no = biz.get("out_trade_no", "")
        if method in ("alipay.trade.precreate", "alipay.trade.page.pay", "alipay.trade.wap.pay"):
            fen = round(float(biz.get("total_amount", "0")) * 100)
            with self.lock:
                self.orders[no] = SandboxOrder("alipay", no, fen, params.get("notify_url", ""),
                                               biz.get("subject", ""), params.get("return_url", ""))
            page = f"{self.url}/sandbox/pay/alipay/{no}"
            if method != "alipay.trade.precreate":
                return page  # the owner's browser is sent to the pay page
            return method, {"code": "10000", "msg": "Success", "out_trade_no": no, "qr_code": page}
        order = self.orders.get(no)
        if method == "alipay.trade.query":
            if order is None:
                return method, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
                                "sub_msg": "交易不存在"}
            status = "TRADE_SUCCESS" if order.paid else ("TRADE_CLOSED" if order.closed else "WAIT_BUYER_PAY")
            return method, {"code": "10000", "msg": "Success", "out_trade_no": no, "trade_no": order.trade_no,
                            "trade_status": status, "total_amount": f"{fen_to_yuan(order.amount_fen):.2f}"}
        if method == "alipay.trade.close":
            if order:
                order.closed = True
            return method, {"code": "10000", "msg": "Success", "out_trade_no": no}
        if method in ("alipay.trade.refund", "alipay.trade.fastpay.refund.query"):
            return method, {"code": "10000", "msg": "Success", "out_trade_no": no, "fund_change": "Y",
                            "refund_fee": biz.get("refund_amount", "0.00"), "refund_status": "REFUND_SUCCESS",
                            "refund_amount": biz.get("refund_amount", "0.00"),
                            "out_request_no": biz.get("out_request_no", "")}
        return method, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR",
                        "sub_msg": "沙箱未实现该接口"}

    # -- paying ----------------------------------------------------------------------------------------------
    def pay(self, provider: str, no: str) -> int:
        """The owner confirmed: mark the order paid and send the signed notification to its notify URL."""
        order = self.orders.get(no)
        if order is None or order.provider != provider:
            return 404
        with self.lock:
            if not order.trade_no:
                order.trade_no = ("4200" if provider == "wechat" else "2026") + f"{secrets.randbelow(10**24):024d}"
            order.paid = True
        if provider == "wechat":
            body = wechat_notification_body(out_trade_no=no, amount_fen=order.amount_fen,
                                            transaction_id=order.trade_no, apiv3_key=self.apiv3_key)
            headers = sign_headers(self.keys, body, stamp=str(int(time.time())), nonce=secrets.token_hex(16))
            request = urllib.request.Request(order.notify_url, data=body.encode(), method="POST",
                                             headers={"Content-Type": "application/json", **headers})
        else:
            params = alipay_notification_params(self.keys, out_trade_no=no, amount=f"{fen_to_yuan(order.amount_fen):.2f}",
                                                trade_no=order.trade_no)
            request = urllib.request.Request(order.notify_url, data=urllib.parse.urlencode(params).encode(),
                                             method="POST",
                                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
        try:
            with opener.open(request, timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0
        self.notifications.append((no, status))
        return status

    def page(self, provider: str, no: str, *, back: str = "", done: bool = False) -> str:
        order = self.orders.get(no)
        color = "#07c160" if provider == "wechat" else "#1677ff"
        name = "微信支付" if provider == "wechat" else "支付宝"
        if order is None:
            return PAGE.format(color=color, body="<p>订单不存在或已过期。</p>")
        amount = format_yuan(order.amount_fen)
        back = back or order.return_url
        back_link = (f'<p style="margin-top:1rem"><a class="btn" href="{html.escape(back)}" data-testid="sandbox-back">'
                     "返回缴费页面</a></p>") if back else '<p class="m">请回到缴费页面查看收据。</p>'
        if done or order.paid:
            body = (f'<h1 style="font-size:1.25rem">{name}（沙箱）</h1><div class="a">{amount}</div>'
                    f'<p data-testid="sandbox-paid">支付成功。支付通知已发送给物业系统。</p>{back_link}')
        else:
            body = (f'<h1 style="font-size:1.25rem">{name}（沙箱）</h1><p class="m">{html.escape(order.description)}'
                    f' · 订单 {html.escape(no)}</p><div class="a" data-testid="sandbox-amount">{amount}</div>'
                    f'<form method="post"><input type="hidden" name="back" value="{html.escape(back)}">'
                    f'<button data-testid="sandbox-confirm">确认支付</button></form>'
                    '<p class="m" style="margin-top:.75rem">这是本机的模拟支付服务：按下后会像真实支付平台一样，'
                    '向物业系统发送带签名的支付通知。</p>')
        return PAGE.format(color=color, body=body)

    # -- the demo's SMS inbox ---------------------------------------------------------------------------------------
    SMS_TAIL_BYTES = 256 * 1024

    def login_messages(self, limit: int = 10) -> list[dict]:
        """The latest owner login codes the file SMS backend wrote (``sms.jsonl``), newest first. Only the tail
        of the file is read; only login messages are shown (not the ladder's reminders)."""
        path = self.outbox / "sms.jsonl" if self.outbox else None
        if path is None or not path.exists():
            return []
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - self.SMS_TAIL_BYTES))
            lines = f.read().decode("utf-8", "replace").splitlines()
        out = []
        for line in reversed(lines):
            try:
                row = json.loads(line)
            except ValueError:
                continue  # the first line of the tail may be cut
            if isinstance(row, dict) and str(row.get("out_id", "")).startswith("login-"):
                out.append(row)
                if len(out) >= limit:
                    break
        return out

    def sms_page(self) -> str:
        rows = self.login_messages()
        items = "".join(
            f'<li style="margin:.75rem 0" data-testid="sandbox-sms"><div class="m">发往 {html.escape(str(r.get("to", "")))}'
            f'</div><div>{html.escape(str(r.get("body", "")))}</div></li>' for r in rows)
        body = ('<h1 style="font-size:1.25rem">短信收件箱（沙箱）</h1>'
                '<p class="m">演示环境不真实发送短信：业主登录验证码写在本机（outbox/sms.jsonl），最新的在最上面。'
                '刷新本页可看到刚发出的验证码。</p>'
                + (f'<ul style="padding-left:1.1rem">{items}</ul>' if items
                   else '<p data-testid="sandbox-sms-empty">还没有登录验证码短信。请先在业主登录页输入手机号码并获取验证码。</p>'))
        return PAGE.format(color="#198754", body=body)

    # -- the server --------------------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, status: int, text: str, content_type: str, headers: dict | None = None):
                data = text.encode()
                self.send_response(status)
                if text or status != 204:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                path = urllib.parse.urlsplit(self.path)
                if path.path.rstrip("/") == "/sandbox/sms":
                    return self._send(200, sandbox.sms_page(), "text/html; charset=utf-8",
                                      {"Cache-Control": "no-store"})
                if path.path.startswith("/sandbox/pay/"):
                    segs = path.path.strip("/").split("/") + ["", ""]
                    provider, no = segs[2], segs[3]
                    form = dict(urllib.parse.parse_qsl(body)) if body else {}
                    query = dict(urllib.parse.parse_qsl(path.query))
                    # WeChat H5 sends the browser to the h5_url's ``redirect_url`` after paying
                    back = form.get("back") or query.get("back") or query.get("redirect_url", "")
                    if self.command == "POST":
                        sandbox.pay(provider, no)
                    return self._send(200, sandbox.page(provider, no, back=back, done=self.command == "POST"),
                                      "text/html; charset=utf-8")
                if path.path == "/connect/oauth2/authorize":
                    target = sandbox.authorize(dict(urllib.parse.parse_qsl(path.query)))
                    if target is None:
                        return self._send(400, "沙箱：appid 或 redirect_uri 不正确", "text/plain; charset=utf-8")
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if path.path == "/sns/oauth2/access_token":
                    answer = sandbox.access_token(dict(urllib.parse.parse_qsl(path.query)))
                    return self._send(200, json.dumps(answer), "application/json; encoding=utf-8")
                if path.path.startswith("/v3/"):
                    status, payload = sandbox.wechat(self.command, self.path, body)
                    text = "" if payload is None else json.dumps(payload, ensure_ascii=False)
                    headers = sign_headers(sandbox.keys, text, stamp=str(int(time.time())),
                                           nonce=secrets.token_hex(16))
                    return self._send(status, text, "application/json", headers)
                if path.path.endswith("/gateway.do"):
                    params = dict(urllib.parse.parse_qsl(path.query, keep_blank_values=True))
                    params.update(dict(urllib.parse.parse_qsl(body, keep_blank_values=True)) if body else {})
                    answer = sandbox.alipay(params)
                    if isinstance(answer, str):
                        self.send_response(302)
                        self.send_header("Location", answer)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return None
                    method, payload = answer
                    content = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
                    key = method.replace(".", "_") + "_response"
                    text = f'{{"{key}":{content},"sign":"{alipay_sign(sandbox.keys, content)}"}}'
                    return self._send(200, text, "text/html;charset=utf-8")
                return self._send(404, "not found", "text/plain")

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def settings(self) -> dict[str, str]:
        """The settings (environment variable names and values) that point the portal at this sandbox."""
        k = self.keys
        return {
            "WUYE_PAY_SANDBOX": "1", "WECHATPAY_MCHID": MCHID, "WECHATPAY_APPID": APPID,
            "WECHATPAY_APIV3_KEY": self.apiv3_key, "WECHATPAY_CERT_SERIAL_NO": MERCHANT_SERIAL,
            "WECHATPAY_PRIVATE_KEY_FILE": k.path("apiclient_key.pem"),
            "WECHATPAY_PLATFORM_CERT_FILE": k.path("wechatpay_platform.pem"), "WECHATPAY_API_BASE": self.url,
            "WECHAT_MP_APPID": APPID, "WECHAT_MP_SECRET_FILE": k.path("wechat_mp_secret"),
            "WECHAT_MP_AUTHORIZE_URL": f"{self.url}/connect/oauth2/authorize",
            "WECHAT_MP_TOKEN_URL": f"{self.url}/sns/oauth2/access_token",
            "ALIPAY_APPID": ALIPAY_APPID, "ALIPAY_PRIVATE_KEY_FILE": k.path("alipay_app_private.pem"),
            "ALIPAY_PUBLIC_KEY_FILE": k.path("alipay_public.pem"), "ALIPAY_GATEWAY": f"{self.url}/gateway.do",
        }
