"""Content-Security-Policy on every response (``settings.WUYE_CONTENT_SECURITY_POLICY``).

Every asset is vendored and served from this site, and no template has inline script, inline style or an
inline event handler (small behaviours live in ``static/wuye/behaviours.js``; htmx's injected indicator style
is switched off by the ``htmx-config`` meta), so the policy allows only 'self' — plus ``data:`` images (the
favicon placeholder, Bootstrap's SVG icons in its CSS, QR codes drawn as PNG inside WeChat).
``tests/e2e/test_csp.py`` loads the pages in Chromium and fails on any violation.
"""

from __future__ import annotations

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    header = "Content-Security-Policy"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "WUYE_CONTENT_SECURITY_POLICY", "")
        if policy and self.header not in response:
            response[self.header] = policy
        return response


# ECharts (the manager's charts) writes style attributes on the elements it draws into; a style attribute
# cannot run script, so the pages that draw charts allow inline style *attributes* (style-src-attr) while
# <style> elements and every script stay refused (decision 61).
CHARTS_EXTRA = "style-src-attr 'unsafe-inline'"


def charts_policy(view):
    """Decorator for a view whose page draws ECharts charts."""
    from functools import wraps

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        policy = getattr(settings, "WUYE_CONTENT_SECURITY_POLICY", "")
        if policy:
            response[ContentSecurityPolicyMiddleware.header] = f"{policy}; {CHARTS_EXTRA}"
        return response
    return wrapped
