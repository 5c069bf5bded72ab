"""Aliyun SMS (阿里云短信服务, dysmsapi 2017-05-25 ``SendSms``) through the official SDK.

The SDK is an optional extra (``pip install wuye[aliyun]``): it is imported when the backend is built, so this
module imports without it.

Options (``settings.WUYE_CHANNEL_OPTIONS["aliyun"]``): ``access_key_id``, ``access_key_secret``,
``sign_name`` and ``template_code`` (defaults when the message has none), ``param_names`` (the names of the
template's variables in the order of ``Message.params``: a list, or a dict of lists by template code;
default ``p1, p2, …``), ``endpoint`` (dysmsapi.aliyuncs.com; tests ``127.0.0.1:PORT``), ``protocol``
(https; tests http), ``timeout`` in seconds (10).
"""

from __future__ import annotations

import json
import re

from django.core.exceptions import ImproperlyConfigured

from wuye.notify.base import Backend, Message, Outcome, Result, network_outcome

# Codes from Aliyun's "国内消息API错误码" list.
WRONG_NUMBER_CODES = frozenset({
    "isv.MOBILE_NUMBER_ILLEGAL",  # 非法手机号
    "isv.MOBILE_COUNT_OVER_LIMIT",  # 手机号码数量超过限制: we send one, so the stored value is not one number
})
# Permanent without flagging the number: isv.BLACK_KEY_CONTROL_LIMIT (黑名单管控: the owner or the carrier
# blocked us, the number may still answer a call), isv.DOMESTIC_NUMBER_NOT_SUPPORTED, template and signature
# errors, bad keys … (the default below).
TRANSIENT_CODES = frozenset({
    "isv.BUSINESS_LIMIT_CONTROL",  # 业务限流 (per-number minute/hour/day flow control)
    "isv.DAY_LIMIT_CONTROL",  # 触发日发送限额
    "isv.MONTH_LIMIT_CONTROL",  # 触发月发送限额
    "isv.OUT_OF_SERVICE",  # 业务停机 (balance): works again after a top-up
    "isv.AMOUNT_NOT_ENOUGH",  # 账户余额不足
    "isp.SYSTEM_ERROR",
    "isp.GATEWAY_ERROR",
    "ServiceUnavailable",
    "InternalError",
})
TRANSIENT_PREFIXES = ("Throttling",)  # Throttling, Throttling.User, Throttling.Api …


def classify(code: str) -> tuple[Outcome, str]:
    """(outcome, dead_address) for an Aliyun error code."""
    if code in WRONG_NUMBER_CODES:
        return Outcome.PERMANENT, "wrong"
    if code in TRANSIENT_CODES or code.startswith(TRANSIENT_PREFIXES):
        return Outcome.TRANSIENT, ""
    return Outcome.PERMANENT, ""


def national_number(number: str) -> str:
    """Aliyun takes mainland numbers bare (13800138000) and others with the country code, without '+'."""
    n = re.sub(r"[\s\-()]", "", number)
    for prefix in ("+86", "0086", "86"):
        if n.startswith(prefix) and re.fullmatch(r"1\d{10}", n[len(prefix):]):
            return n[len(prefix):]
    return n.removeprefix("+")


class AliyunSMSBackend(Backend):
    name = "aliyun"

    def __init__(self, **options):
        super().__init__(**options)
        try:
            from alibabacloud_dysmsapi20170525 import models
            from alibabacloud_dysmsapi20170525.client import Client
            from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ThrottlingException
            from alibabacloud_tea_openapi.utils_models import Config
            from Tea.exceptions import TeaException
        except ImportError as e:
            raise ImproperlyConfigured(
                "未安装阿里云短信 SDK：请安装可选依赖 `pip install wuye[aliyun]`"
                "（alibabacloud-dysmsapi20170525），或改用腾讯云短信（WUYE_SMS_BACKEND=tencent）"
            ) from e
        key_id, secret = options.get("access_key_id") or "", options.get("access_key_secret") or ""
        if not key_id or not secret:
            raise ImproperlyConfigured("阿里云短信未配置 AccessKey（access_key_id / access_key_secret）")
        self._models = models
        self._cloud_error, self._throttled, self._tea_error = AlibabaCloudException, ThrottlingException, TeaException
        endpoint = options.get("endpoint") or "dysmsapi.aliyuncs.com"
        protocol = options.get("protocol") or "https"
        if "://" in endpoint:
            protocol, endpoint = endpoint.split("://", 1)
        timeout_ms = int(float(options.get("timeout") or 10) * 1000)
        config = Config(access_key_id=key_id, access_key_secret=secret, endpoint=endpoint.rstrip("/"),
                        protocol=protocol, read_timeout=timeout_ms, connect_timeout=timeout_ms)
        self.client = Client(config)

    def _param_names(self, template_code: str, count: int) -> list[str]:
        names = self.options.get("param_names") or []
        if isinstance(names, dict):
            names = names.get(template_code) or []
        names = list(names)
        return names[:count] + [f"p{i}" for i in range(len(names) + 1, count + 1)]

    def send(self, message: Message) -> Result:
        if not message.to.strip():
            return Result(Outcome.PERMANENT, detail="没有手机号", dead_address="empty")
        template_code = message.template_id or self.options.get("template_code") or ""
        if not template_code:
            return Result(Outcome.PERMANENT, detail="未指定短信模板 CODE")

        req = self._models.SendSmsRequest(
            phone_numbers=national_number(message.to),
            sign_name=message.sign_name or self.options.get("sign_name") or None,
            template_code=template_code,
            out_id=message.out_id,
        )
        if message.params:
            names = self._param_names(template_code, len(message.params))
            req.template_param = json.dumps(dict(zip(names, map(str, message.params), strict=True)),
                                            ensure_ascii=False, separators=(",", ":"))
        try:
            body = self.client.send_sms(req).body
        except self._throttled as e:
            return Result(Outcome.TRANSIENT, detail=f"{e.code}: {e.message}"[:300],
                          extra={"code": e.code or "", "request_id": e.request_id or ""})
        except self._cloud_error as e:  # an HTTP 4xx/5xx answer with an error code
            code = e.code if e.code and e.code != "None" else ""
            if (e.status_code or 0) >= 500:
                outcome, dead = Outcome.TRANSIENT, ""
            else:
                outcome, dead = classify(code)
            return Result(outcome, detail=f"HTTP {e.status_code} {code}: {e.message}"[:300], dead_address=dead,
                          extra={"code": code, "request_id": e.request_id or ""})
        except self._tea_error as e:  # no usable answer: refused, reset, timed out, not JSON
            inner = getattr(e, "inner_exception", None) or e
            text = re.sub(r"url: \S+", "url: …", str(getattr(inner, "message", None) or inner))  # no phone numbers
            outcome = network_outcome(f"{type(inner).__name__} {text}")
            return Result(outcome, detail=("发送超时，平台可能已收到：" if outcome == Outcome.UNCERTAIN else "网络错误：")
                          + text[:280], extra={"code": "network"})

        code = body.code or ""
        extra = {"code": code, "request_id": body.request_id or ""}
        if code == "OK":
            return Result(Outcome.SENT, provider_message_id=body.biz_id or "", extra=extra)
        outcome, dead = classify(code)
        return Result(outcome, detail=f"{code}: {body.message}", dead_address=dead, extra=extra)
