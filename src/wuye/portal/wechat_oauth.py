"""微信网页授权 (snsapi_base, silent) for 微信内支付: the payer's openid for the company's service account.

Inside WeChat the pay step sends the browser to WeChat's authorize URL with a ``state`` that names a pending
payment kept in this browser's session and carries an HMAC of it (so a state from another browser, a
tampered one or an old one is refused before any code is exchanged). WeChat sends the browser back to
``/p/wechat/oauth/`` with a ``code``; the server exchanges it for the openid at WeChat's token endpoint (an
HTTPS call with a timeout; the AppSecret is read from ``WECHAT_MP_SECRET_FILE`` when used). The openid is
kept only in the server-side session, for the service account it belongs to, and logs show it masked; the
access token that comes with it is not kept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.urls import reverse

from wuye.common.formatting import mask_text
from wuye.portal.providers import NotConfigured, ProviderError

log = logging.getLogger(__name__)

PENDING_KEY = "portal_wx_pending"  # session: state nonce → the payment waiting for the openid
OPENID_KEY = "portal_wx_openid"  # session: {"appid": …, "openid": …}
PENDING_TTL = 600  # seconds between the tap on 微信支付 and WeChat's redirect back
PENDING_KEPT = 3  # pending payments per session


class OAuthFailed(ProviderError):
    """WeChat did not give us the openid; ``str()`` is the owner's message (the order falls back to the QR)."""


@dataclass
class Pending:
    """A payment the owner started inside WeChat, waiting for the openid."""

    link_id: int
    token: str
    bill_ids: list[int]
    pay_all: bool


def _mac(nonce: str, link_id: int) -> str:
    message = f"wechat-oauth-state:{nonce}:{link_id}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:40]


def redirect_uri() -> str:
    """Our callback, absolute, on the public host (the host must be the account's 网页授权域名)."""
    return settings.WUYE_PAY_NOTIFY_BASE.rstrip("/") + reverse("portal:wechat-oauth")


def authorize_url(state: str) -> str:
    """WeChat matches the authorize link strictly: parameters in this order, ``#wechat_redirect`` at the end."""
    query = urllib.parse.urlencode([("appid", settings.WECHAT_MP_APPID), ("redirect_uri", redirect_uri()),
                                    ("response_type", "code"), ("scope", "snsapi_base"), ("state", state)])
    return f"{settings.WECHAT_MP_AUTHORIZE_URL}?{query}#wechat_redirect"


def authorize_start(session, *, link_id: int, token: str, bill_ids: list[int], pay_all: bool) -> str:
    """Remember the payment in the session and return the URL to send the browser to. The state (64
    characters of ``[0-9a-f]``, as WeChat allows) is a random nonce and an HMAC binding it to the link."""
    nonce = secrets.token_hex(12)
    pending = {k: v for k, v in (session.get(PENDING_KEY) or {}).items()
               if time.time() - v.get("at", 0) < PENDING_TTL}
    pending[nonce] = {"link": link_id, "token": token, "bill_ids": bill_ids, "pay_all": pay_all,
                      "at": int(time.time())}
    session[PENDING_KEY] = dict(list(pending.items())[-PENDING_KEPT:])
    return authorize_url(nonce + _mac(nonce, link_id))


def pending_take(session, state: str) -> Pending | None:
    """The payment this state names, once: only in the session that started it, within ``PENDING_TTL``,
    with an intact HMAC. Anything else is None (and nothing is exchanged)."""
    nonce, mac = state[:24], state[24:]
    pending = dict(session.get(PENDING_KEY) or {})
    entry = pending.get(nonce)
    if entry is None or len(state) != 64:
        return None
    if not hmac.compare_digest(mac, _mac(nonce, int(entry["link"]))):
        return None
    del pending[nonce]
    session[PENDING_KEY] = pending
    if time.time() - entry.get("at", 0) > PENDING_TTL:
        return None
    return Pending(link_id=int(entry["link"]), token=str(entry["token"]),
                   bill_ids=[int(i) for i in entry.get("bill_ids") or []], pay_all=bool(entry.get("pay_all")))


def session_openid(session) -> str:
    """The openid this browser's session holds for the configured service account, or ``""``."""
    kept = session.get(OPENID_KEY) or {}
    if kept.get("appid") == settings.WECHAT_MP_APPID and kept.get("openid"):
        return str(kept["openid"])
    return ""


def session_remember(session, openid: str) -> None:
    session[OPENID_KEY] = {"appid": settings.WECHAT_MP_APPID, "openid": openid}


def session_forget(session) -> None:
    session.pop(OPENID_KEY, None)


def _secret() -> str:
    path = settings.WECHAT_MP_SECRET_FILE
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        log.error("service account secret file unreadable: WECHAT_MP_SECRET_FILE=%s (%s)", path, exc)
        raise NotConfigured("微信公众号配置有误，暂不能在微信内直接支付，已改用二维码支付。") from exc
    if not secret:
        log.error("service account secret file is empty: WECHAT_MP_SECRET_FILE=%s", path)
        raise NotConfigured("微信公众号配置有误，暂不能在微信内直接支付，已改用二维码支付。")
    return secret


FAILED = "未能取得微信授权，暂不能在微信内直接支付，已改用二维码支付。"


def openid_for_code(code: str) -> str:
    """Exchange the authorization code for the payer's openid (``sns/oauth2/access_token``). The request's
    URL holds the AppSecret and the code: neither is ever logged, nor the answer's tokens."""
    if not code or len(code) > 128:
        raise OAuthFailed(FAILED)
    query = urllib.parse.urlencode({"appid": settings.WECHAT_MP_APPID, "secret": _secret(), "code": code,
                                    "grant_type": "authorization_code"})
    request = urllib.request.Request(f"{settings.WECHAT_MP_TOKEN_URL}?{query}",
                                     headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=settings.WUYE_PAY_TIMEOUT_SECONDS) as response:
            raw = response.read(65536)
    except urllib.error.HTTPError as exc:
        log.warning("wechat oauth token endpoint answered HTTP %s", exc.code)
        raise OAuthFailed(FAILED) from None
    except (urllib.error.URLError, OSError) as exc:
        log.warning("wechat oauth token endpoint unreachable: %s", type(getattr(exc, "reason", exc)).__name__)
        raise OAuthFailed("暂时连不上微信授权服务，已改用二维码支付。") from None
    try:
        answer = json.loads(raw.decode("utf-8"))
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        log.warning("wechat oauth token endpoint answered something other than a JSON object")
        raise OAuthFailed(FAILED)
    if answer.get("errcode"):
        log.warning("wechat oauth refused the code: errcode %s %s", answer.get("errcode"),
                    str(answer.get("errmsg", ""))[:80])
        raise OAuthFailed(FAILED)
    openid = answer.get("openid")
    if not isinstance(openid, str) or not openid or len(openid) > 128:
        log.warning("wechat oauth answer carries no openid")
        raise OAuthFailed(FAILED)
    if answer.get("is_snapshotuser") == 1:  # 朋友圈快照页: a virtual openid that cannot pay
        raise OAuthFailed("当前是微信快照页，无法在此直接支付：请点击页面底部的“使用完整服务”后再试，或使用下方二维码。")
    log.info("wechat oauth: openid %s", mask_text(openid))
    return openid
