"""WeChat Official Account template messages (公众号模板消息), plain HTTPS with ``urllib``.

Options (``settings.WUYE_CHANNEL_OPTIONS["wechat"]``): ``app_id``, ``app_secret``, ``api_base``
(https://api.weixin.qq.com; tests a local server), ``template_id`` (default when the message has none),
``param_names`` (the template's data keys in the order of ``Message.params``: a list, or a dict of lists by
template id; default ``keyword1, keyword2, …``), ``url`` (the page a tap opens, optional), ``timeout`` in
seconds (10).

The access token is cached per process and app until shortly before it expires, shared by every backend
instance (``backend_for`` builds a new one per call; WeChat limits token requests per day). A send answered
40001/40014/42001 (token invalid or expired, e.g. fetched again by another process) refreshes it once.
``client_msg_id`` carries the out_id: WeChat sends one message per openid + client_msg_id for 10 minutes,
so that retry, or a quick retry after a lost answer, does not notify the owner twice.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from django.core.exceptions import ImproperlyConfigured

from wuye.notify.base import Backend, Message, Outcome, Result, network_outcome

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential / invalid access_token / expired
DEAD_OPENID = {43004: "用户未关注公众号", 40003: "openid 无效"}
TRANSIENT_ERRORS = frozenset({-1, 45009, 45011})  # system busy, API daily/minute quota reached
EXPIRY_MARGIN = 300  # seconds: refresh this long before WeChat says the token expires

_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


class _Unreachable(Exception):
    """No answer from WeChat (network, timeout, HTTP error status, not JSON). ``maybe_sent``: a message
    was posted and the connection failed while waiting for the answer."""

    def __init__(self, text: str, maybe_sent: bool = False):
        super().__init__(text)
        self.maybe_sent = maybe_sent


class WeChatTemplateBackend(Backend):
    name = "wechat"

    def __init__(self, **options):
        super().__init__(**options)
        self.app_id = options.get("app_id") or ""
        self.app_secret = options.get("app_secret") or ""
        if not self.app_id or not self.app_secret:
            raise ImproperlyConfigured("微信公众号未配置 AppID / AppSecret（app_id / app_secret）")
        self.api_base = (options.get("api_base") or "https://api.weixin.qq.com").rstrip("/")
        self.timeout = float(options.get("timeout") or 10)

    # --- HTTP ---------------------------------------------------------------------------------------------
    def _call(self, path: str, query: dict, payload: dict | None = None) -> dict:
        url = f"{self.api_base}{path}?{urllib.parse.urlencode(query)}"
        data = None
        headers = {"Accept": "application/json"}
        if payload is not None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:  # the URL holds the token: report the status only
            raise _Unreachable(f"HTTP {e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            maybe = payload is not None and network_outcome(f"{type(reason).__name__} {reason}") == Outcome.UNCERTAIN
            raise _Unreachable(f"网络错误：{reason}", maybe_sent=maybe) from None
        try:
            answer = json.loads(raw.decode("utf-8"))
        except ValueError:
            raise _Unreachable("微信返回的不是 JSON") from None
        if not isinstance(answer, dict):
            raise _Unreachable("微信返回的不是 JSON 对象")
        return answer

    # --- access token -----------------------------------------------------------------------------------
    def _token(self, *, stale: str = "") -> str:
        """The cached token, or a new one when there is none, it expired or it is ``stale`` (WeChat refused
        it; another thread may have replaced it already). Raises ``_TokenError`` when WeChat refuses one."""
        key = (self.api_base, self.app_id)
        with _tokens_lock:
            cached = _tokens.get(key)
            if cached and cached[0] != stale and time.monotonic() < cached[1]:
                return cached[0]
            answer = self._call("/cgi-bin/token", {"grant_type": "client_credential", "appid": self.app_id,
                                                   "secret": self.app_secret})
            token = answer.get("access_token")
            if not token:
                raise _TokenError(int(answer.get("errcode") or 0), str(answer.get("errmsg") or ""))
            lifetime = int(answer.get("expires_in") or 7200)
            _tokens[key] = (token, time.monotonic() + max(lifetime - EXPIRY_MARGIN, 0))
            return token

    # --- sending ------------------------------------------------------------------------------------------
    def _payload(self, message: Message) -> dict:
        template_id = message.template_id or self.options.get("template_id") or ""
        names = self.options.get("param_names") or []
        if isinstance(names, dict):
            names = names.get(template_id) or []
        names = list(names)[: len(message.params)]
        names += [f"keyword{i}" for i in range(len(names) + 1, len(message.params) + 1)]
        payload = {
            "touser": message.to.strip(),
            "template_id": template_id,
            "data": {name: {"value": str(value)} for name, value in zip(names, message.params, strict=True)},
            "client_msg_id": message.out_id[:64],
        }
        if self.options.get("url"):
            payload["url"] = self.options["url"]
        return payload

    def send(self, message: Message) -> Result:
        if not message.to.strip():
            return Result(Outcome.PERMANENT, detail="没有微信 openid", dead_address="empty")
        payload = self._payload(message)
        if not payload["template_id"]:
            return Result(Outcome.PERMANENT, detail="未指定微信模板 ID")
        try:
            answer = self._send_with_token(payload)
        except _TokenError as e:
            outcome = Outcome.TRANSIENT if e.errcode in TRANSIENT_ERRORS else Outcome.PERMANENT
            return Result(outcome, detail=f"获取 access_token 失败 {e.errcode}: {e.errmsg}",
                          extra={"errcode": e.errcode})
        except _Unreachable as e:
            if e.maybe_sent:
                return Result(Outcome.UNCERTAIN, detail=f"发送超时，平台可能已收到：{e}")
            return Result(Outcome.TRANSIENT, detail=str(e))

        errcode = int(answer.get("errcode") or 0)
        errmsg = str(answer.get("errmsg") or "")
        extra = {"errcode": errcode}
        if errcode == 0:
            return Result(Outcome.SENT, provider_message_id=str(answer.get("msgid") or ""), extra=extra)
        if errcode in DEAD_OPENID:
            return Result(Outcome.PERMANENT, detail=f"{errcode} {DEAD_OPENID[errcode]}: {errmsg}",
                          dead_address="wrong", extra=extra)
        if errcode in TRANSIENT_ERRORS or errcode in TOKEN_ERRORS:  # token refused even when fresh: later
            return Result(Outcome.TRANSIENT, detail=f"{errcode}: {errmsg}", extra=extra)
        return Result(Outcome.PERMANENT, detail=f"{errcode}: {errmsg}", extra=extra)

    def _send_with_token(self, payload: dict) -> dict:
        token = self._token()
        answer = self._call("/cgi-bin/message/template/send", {"access_token": token}, payload)
        if int(answer.get("errcode") or 0) in TOKEN_ERRORS:
            answer = self._call("/cgi-bin/message/template/send", {"access_token": self._token(stale=token)},
                                payload)
        return answer


class _TokenError(Exception):
    def __init__(self, errcode: int, errmsg: str):
        super().__init__(errcode, errmsg)
        self.errcode, self.errmsg = errcode, errmsg
