"""Deployment checks: the server refuses to start insecure.

``wuye.E001``: outside debug and demo mode, ``WUYE_SECRET_KEY`` must be set to a real key — not missing, not
the development default, at least 50 characters with at least 5 different ones (what Django's own
``security.W009`` asks). Anyone who knows the key can forge sessions, CSRF tokens and reminder pay links. The
check is a deploy check (``wuye check --deploy``) and runs when a server starts: ``wuye runserver`` and
``wuye run_huey`` (``wuye.cli``) and the WSGI application (``wuye.wsgi``, e.g. gunicorn) stop with the message.
``wuye demo`` runs in demo mode (``WUYE_DEMO=1``), where the development key is allowed.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register

DEV_SECRET_KEY = "insecure-dev-key-change-me-in-production-0123456789"


def secret_key_problem() -> str:
    """Why the configured key is not good enough for production ("" when it is, or in debug/demo mode)."""
    if settings.DEBUG or getattr(settings, "WUYE_DEMO", False):
        return ""
    key = getattr(settings, "SECRET_KEY", "") or ""
    if not getattr(settings, "WUYE_SECRET_KEY_SET", True) or key == DEV_SECRET_KEY:
        return "WUYE_SECRET_KEY 未设置（仍是开发用的默认密钥）"
    if len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure-"):
        return "WUYE_SECRET_KEY 太弱（至少 50 个字符、5 种以上不同字符）"
    return ""


def secret_key_errors() -> list[Error]:
    problem = secret_key_problem()
    if not problem:
        return []
    return [Error(
        f"{problem}：拒绝在生产模式下启动。",
        hint="设置 WUYE_SECRET_KEY，例如 python3 -c 'import secrets; print(secrets.token_urlsafe(50))' 的输出；"
             "知道密钥的人可以伪造会话、CSRF 令牌和催缴短信中的缴费链接。仅本机试用时可设 WUYE_DEBUG=1 或用 wuye demo。",
        id="wuye.E001",
    )]


@register(Tags.security, deploy=True)
def check_secret_key(app_configs=None, **kwargs):
    return secret_key_errors()


def refuse_insecure_start() -> None:
    """Stop a server process that would run with an unsafe key (runserver, run_huey, WSGI)."""
    from django.core.exceptions import ImproperlyConfigured

    errors = secret_key_errors()
    if errors:
        raise ImproperlyConfigured(f"[{errors[0].id}] {errors[0].msg} {errors[0].hint}")
