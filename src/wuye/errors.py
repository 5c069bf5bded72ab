"""Error pages in Chinese, sized for a phone, each with a way back (issue 17 item 8).

Django's defaults print "403 Forbidden" or "Not Found" in English; these handlers render our own templates.
A message raised with the error (``PermissionDenied("只有经理可以审批。")``) is shown when it is written for
people (contains Chinese); Django's own English messages ("No Unit matches the given query.") never are.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpResponseForbidden, HttpResponseNotFound, HttpResponseServerError
from django.shortcuts import resolve_url
from django.template import loader
from django.utils.http import url_has_allowed_host_and_scheme

_CJK = re.compile(r"[\u4e00-\u9fff]")


def _human_message(exception) -> str:
    """The error's own message, only when it was written for people (in Chinese)."""
    if exception is None:
        return ""
    args = getattr(exception, "args", ())
    text = str(args[0]) if args else ""
    if isinstance(args[0] if args else None, dict):  # Http404 from the resolver carries a dict
        return ""
    return text if _CJK.search(text) else ""


def _ways_back(request) -> dict:
    """Where to go from here: the page before (same site only) and the user's own first page."""
    ctx: dict = {"back_url": "", "home_url": "/", "home_label": "回到首页", "role_label": ""}
    referer = request.META.get("HTTP_REFERER", "")
    if referer and referer != request.build_absolute_uri() and url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        ctx["back_url"] = referer
    if request.path.startswith("/p/"):  # the owner's pages: back to the owner's login, never a staff page
        ctx.update(home_url=resolve_url("portal:login"), home_label="回到业主登录", owner=True)
        return ctx
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        landing = getattr(settings, "WUYE_ROLE_LANDING", {}).get(getattr(user, "role", ""))
        ctx["home_url"] = resolve_url(landing or "home")
        ctx["home_label"] = "回到我的工作首页"
        display = getattr(user, "get_role_display", None)
        ctx["role_label"] = display() if callable(display) else ""
        ctx["user_name"] = str(user)
    else:
        ctx.update(home_url=resolve_url(settings.LOGIN_URL), home_label="去登录")
    return ctx


def forbidden(request, exception=None):
    ctx = {"message": _human_message(exception), **_ways_back(request)}
    return HttpResponseForbidden(loader.render_to_string("403.html", ctx, request))


def not_found(request, exception=None):
    ctx = {"message": _human_message(exception), **_ways_back(request)}
    return HttpResponseNotFound(loader.render_to_string("404.html", ctx, request))


def server_error(request):
    # no request context (the error may have come from a context processor); links are plain paths
    owner = request.path.startswith("/p/")
    ctx = {"home_url": "/p/login/" if owner else "/", "home_label": "回到业主登录" if owner else "回到首页",
           "owner": owner}
    return HttpResponseServerError(loader.render_to_string("500.html", ctx))


def csrf_failure(request, reason=""):
    """A form sent after its page went stale (or cookies blocked): say so in Chinese, with a way back."""
    ctx = {"message": "页面已过期或浏览器未保存登录信息，表单没有提交。请返回上一页刷新后重试。", **_ways_back(request)}
    return HttpResponseForbidden(loader.render_to_string("403.html", ctx, request))
