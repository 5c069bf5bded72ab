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
