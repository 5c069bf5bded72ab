"""Tencent Cloud SMS (腾讯云短信) through the official SDK, API version 2021-01-11 ``SendSms``.

Options (``settings.WUYE_CHANNEL_OPTIONS["tencent"]``): ``secret_id``, ``secret_key``, ``app_id`` (SmsSdkAppId),
``sign_name`` and ``template_id`` (defaults when the message has none), ``region`` (ap-guangzhou),
``endpoint`` (sms.tencentcloudapi.com; tests use ``127.0.0.1:PORT``), ``scheme`` (https; tests http) and
``timeout`` in seconds (10).

The answer is mapped onto an ``Outcome`` by the code Tencent returns, either for the whole request (an
``Error`` in the response, raised by the SDK) or per number (``SendStatusSet[0].Code``); the codes are
those of ``tencentcloud.sms.v20210111.errorcodes``.
"""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured

from wuye.notify.base import Backend, Message, Outcome, Result, network_outcome

# The number itself is bad: flag the contact point.
WRONG_NUMBER_CODES = frozenset({
    "InvalidParameterValue.IncorrectPhoneNumber",  # 手机号格式错误
    "FailedOperation.PhoneNumberParseFail",  # 号码解析失败 (not E.164)
})
EMPTY_NUMBER_CODES = frozenset({"MissingParameter.EmptyPhoneNumberSet"})

# Will not work for this number with this template, though the number may well reach a person by phone:
# permanent, but the contact point is not flagged dead.
#   FailedOperation.PhoneNumberInBlacklist (the owner unsubscribed, or a carrier's do-not-disturb list),
#   UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber / ChineseMainlandTemplateToGlobalPhone /
#   GlobalTemplateToChineseMainlandPhone / UnsupportedRegion (a foreign number on a mainland template).
# They fall to the default below (permanent).

# Try again later: throttles, daily quotas, the provider's own timeouts, an empty SMS package or an account
# in arrears (sending works again once someone tops it up, so the messages must not be thrown away).
TRANSIENT_CODES = frozenset({
    "InternalError",
    "InternalError.Timeout",
    "InternalError.SendAndRecvFail",
    "InternalError.UnknownError",
    "FailedOperation.MarketingSendTimeConstraint",
    "FailedOperation.InsufficientBalanceInSmsPackage",
    "UnauthorizedOperation.ServiceSuspendDueToArrears",
    # raised by the SDK itself: no answer (refused, reset, timed out) or an HTTP status other than 200
    "ClientNetworkError",
    "ServerNetworkError",
})
TRANSIENT_PREFIXES = ("LimitExceeded.", "RequestLimitExceeded")
# LimitExceeded codes that are no rate limit: more than 200 numbers in one request, a country blocked in
# the console. Retrying changes nothing.
NOT_TRANSIENT_LIMITS = frozenset({
    "LimitExceeded.PhoneNumberCountLimit",
    "LimitExceeded.AppCountryOrRegionInBlacklist",
})


def classify(code: str) -> tuple[Outcome, str]:
    """(outcome, dead_address) for a Tencent error code."""
    if code in WRONG_NUMBER_CODES:
        return Outcome.PERMANENT, "wrong"
    if code in EMPTY_NUMBER_CODES:
        return Outcome.PERMANENT, "empty"
    if code in NOT_TRANSIENT_LIMITS:
        return Outcome.PERMANENT, ""
    if code in TRANSIENT_CODES or code.startswith(TRANSIENT_PREFIXES):
        return Outcome.TRANSIENT, ""
    return Outcome.PERMANENT, ""


_MAINLAND_MOBILE = re.compile(r"1\d{10}")


def e164(number: str) -> str:
    """+86 for an 11-digit mainland mobile (also written 86…/0086…); anything else is passed as written."""
    n = re.sub(r"[\s\-()]", "", number)
    if _MAINLAND_MOBILE.fullmatch(n):
        return "+86" + n
    if n.startswith("0086") and _MAINLAND_MOBILE.fullmatch(n[4:]):
        return "+86" + n[4:]
    if n.startswith("86") and _MAINLAND_MOBILE.fullmatch(n[2:]):
        return "+86" + n[2:]
    return n


class TencentSMSBackend(Backend):
    name = "tencent"

    def __init__(self, **options):
        super().__init__(**options)
        from tencentcloud.common import credential
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import models, sms_client

        self._models = models
        self._sdk_error = TencentCloudSDKException
        self.app_id = str(options.get("app_id") or "")
        if not self.app_id:
            raise ImproperlyConfigured("腾讯云短信未配置 SmsSdkAppId（WUYE_CHANNEL_OPTIONS['tencent']['app_id']）")
        try:
            cred = credential.Credential(options.get("secret_id") or "", options.get("secret_key") or "")
        except TencentCloudSDKException as e:
            raise ImproperlyConfigured(f"腾讯云短信密钥未配置或格式错误（secret_id / secret_key）：{e.message}") from e

        endpoint = options.get("endpoint") or "sms.tencentcloudapi.com"
        scheme = options.get("scheme") or "https"
        if "://" in endpoint:  # "http://127.0.0.1:8080" is accepted too
            scheme, endpoint = endpoint.split("://", 1)
        http = HttpProfile(protocol=scheme, endpoint=endpoint.rstrip("/"), reqMethod="POST",
                           reqTimeout=options.get("timeout") or 10)
        # No region breaker: it would silently switch to a backup endpoint on the internet.
        profile = ClientProfile(signMethod="TC3-HMAC-SHA256", httpProfile=http, disable_region_breaker=True)
        self.client = sms_client.SmsClient(cred, options.get("region") or "ap-guangzhou", profile)

    def send(self, message: Message) -> Result:
        if not message.to.strip():
            return Result(Outcome.PERMANENT, detail="没有手机号", dead_address="empty")
        template_id = message.template_id or self.options.get("template_id") or ""
        if not template_id:
            return Result(Outcome.PERMANENT, detail="未指定短信模板 ID")

        req = self._models.SendSmsRequest()
        req.SmsSdkAppId = self.app_id
        req.SignName = message.sign_name or self.options.get("sign_name") or None
        req.TemplateId = str(template_id)
        req.TemplateParamSet = [str(p) for p in message.params]
        req.PhoneNumberSet = [e164(message.to)]
        req.SessionContext = message.out_id
        try:
            resp = self.client.SendSms(req)
        except self._sdk_error as e:
            code = e.get_code() or ""
            outcome, dead = classify(code)
            message_text = e.get_message()
            if isinstance(message_text, bytes):  # ServerNetworkError carries the raw body
                message_text = message_text.decode("utf-8", "replace")
            if code == "ClientNetworkError":
                outcome = network_outcome(str(message_text))
            return Result(outcome, detail=f"{code}: {str(message_text)[:200]}", dead_address=dead,
                          extra={"code": code, "request_id": e.get_request_id() or ""})

        statuses = resp.SendStatusSet or []
        if not statuses:
            return Result(Outcome.PERMANENT, detail="腾讯云未返回发送状态",
                          extra={"request_id": resp.RequestId or ""})
        status = statuses[0]
        extra = {"code": status.Code or "", "request_id": resp.RequestId or "", "fee": status.Fee}
        if status.Code == "Ok":
            return Result(Outcome.SENT, provider_message_id=status.SerialNo or "", extra=extra)
        outcome, dead = classify(status.Code or "")
        return Result(outcome, detail=f"{status.Code}: {status.Message}", dead_address=dead, extra=extra)
