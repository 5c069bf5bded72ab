"""Error pages in Chinese (handler400/403/404 in ``wuye.urls``) and the ``next`` redirect helper."""

from __future__ import annotations

from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from wuye.common.params import BadParameter


def redirect_next(request, default, *args, **kwargs) -> HttpResponseRedirect:
    """Redirect to the ``next`` address the request carries (POST first, then the query string) if it is a
    page of this site (``url_has_allowed_host_and_scheme``: no other host, no scheme change, no ``//`` or
    ``\\`` tricks); otherwise to ``default`` (a URL name with ``args``/``kwargs``, or a path). Every view that
    reads ``next`` goes through here, so none is an open redirect."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return HttpResponseRedirect(target)
    return redirect(default, *args, **kwargs)


def bad_request(request, exception=None):
    message = exception.args[0] if isinstance(exception, BadParameter) and exception.args else "请求有误。"
    return render(request, "errors/error.html", {"status": 400, "title": "请求有误", "message": message},
                  status=400)


def permission_denied(request, exception=None):
    message = str(exception) if exception is not None and str(exception) else "您没有查看该页面的权限。"
    return render(request, "errors/error.html", {"status": 403, "title": "没有权限", "message": message},
                  status=403)


def page_not_found(request, exception=None):
    message = "页面不存在，或不在您的权限范围内。"
    return render(request, "errors/error.html", {"status": 404, "title": "未找到", "message": message},
                  status=404)
