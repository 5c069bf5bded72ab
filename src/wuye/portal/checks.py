"""System check: the payment sandbox (wuye.portal.sandbox) runs only on a loopback demo, never in production.

With ``WUYE_PAY_SANDBOX`` on, every WeChat Pay / Alipay endpoint must be a loopback URL (the stand-ins) and
every allowed host a loopback name: a server reachable by real owners refuses to start (Django stops on an
Error from a check), so sandbox payments can never be taken for real ones.
"""

from __future__ import annotations

import urllib.parse

from django.conf import settings
from django.core.checks import Error, register

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]", "testserver"}  # testserver: Django's test client


def _loopback_url(url: str) -> bool:
    return (urllib.parse.urlsplit(url or "").hostname or "") in LOOPBACK | {"::1"}


@register()
def pay_sandbox_only_on_loopback(app_configs=None, **kwargs):
    if not getattr(settings, "WUYE_PAY_SANDBOX", False):
        return []
    problems = []
    names = ["WECHATPAY_API_BASE", "ALIPAY_GATEWAY"]
    if getattr(settings, "WECHAT_MP_APPID", ""):  # 微信内支付's 网页授权 goes to the stand-in too
        names += ["WECHAT_MP_AUTHORIZE_URL", "WECHAT_MP_TOKEN_URL"]
    for name in names:
        if not _loopback_url(getattr(settings, name, "")):
            problems.append(f"{name} = {getattr(settings, name, '')!r} 不是本机地址")
    hosts = [h for h in settings.ALLOWED_HOSTS if h.split(":")[0] not in LOOPBACK]
    if hosts:
        problems.append(f"ALLOWED_HOSTS 含有非本机主机 {hosts}")
    if problems:
        return [Error("沙箱支付（WUYE_PAY_SANDBOX）只能用于本机演示：" + "；".join(problems) + "。",
                      hint="生产环境请删除 WUYE_PAY_SANDBOX，并配置真实的微信支付/支付宝商户参数。",
                      id="wuye.E101")]
    return []
