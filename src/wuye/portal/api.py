"""The providers' asynchronous notification endpoints (no session, no CSRF: the signature is the proof).

Replies are exactly what each provider expects: WeChat Pay v3 wants HTTP 200 with ``{"code": "SUCCESS"}``
(or 4xx/5xx with ``{"code": "FAIL", …}`` to be sent again); Alipay wants the plain text ``success`` or
``fail``.
"""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from wuye.common.http import client_ip
from wuye.portal import services


def _provider_headers(request) -> dict[str, str]:
    """HTTP headers under their own names (``Wechatpay-Signature``), from Django's META."""
    out = {}
    for key, value in request.META.items():
        if key.startswith("HTTP_"):
            out[key[5:].replace("_", "-").title()] = value
    if "CONTENT_TYPE" in request.META:
        out["Content-Type"] = request.META["CONTENT_TYPE"]
    return out


@csrf_exempt
@require_POST
def wechat_notify(request):
    try:
        body = request.body.decode("utf-8")
    except UnicodeDecodeError:
        body = request.body.decode("utf-8", "replace")
    status, payload = services.wechat_notification_receive(
        headers=_provider_headers(request), body=body, remote_addr=client_ip(request) or None)
    return JsonResponse(payload, status=status, json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@require_POST
def alipay_notify(request):
    raw = request.body  # read before the form, so the raw text is kept as received
    params = {key: request.POST.get(key, "") for key in request.POST}
    answer = services.alipay_notification_receive(
        params=params, body=raw.decode("utf-8", "replace"),
        remote_addr=client_ip(request) or None)
    return HttpResponse(answer, content_type="text/plain; charset=utf-8")

