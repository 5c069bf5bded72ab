"""Issue 14 item 6: a careless deployment does not start; the switches for HTTPS, proxies and the
Content-Security-Policy work; ``wuye check --deploy`` passes with production-like settings."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory

from wuye.common.http import client_ip

WUYE = str(Path(sys.executable).with_name("wuye"))
PRODUCTION = {
    "WUYE_SECRET_KEY": secrets.token_urlsafe(50), "WUYE_ALLOWED_HOSTS": "wuye.example.cn",
    "WUYE_BEHIND_HTTPS_PROXY": "1", "WUYE_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8", "WUYE_SECURE_COOKIES": "1",
    "WUYE_SSL_REDIRECT": "1", "WUYE_HSTS_SECONDS": "31536000", "WUYE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "WUYE_HSTS_PRELOAD": "1",
}


def _env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WUYE_") and k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "PYTEST_XDIST_WORKER",
                                                      "DJANGO_ALLOW_ASYNC_UNSAFE")}  # set by the browser tests
    env.update(WUYE_DATA_DIR=str(tmp_path), **extra)
    return env


def _run(args, env, timeout=120):
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.once  # child processes without DATABASE_URL, or no database at all
def test_check_deploy_passes_with_production_settings_and_no_warnings(tmp_path):
    done = _run([WUYE, "check", "--deploy", "--fail-level", "WARNING"], _env(tmp_path, **PRODUCTION))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@pytest.mark.once  # child processes without DATABASE_URL, or no database at all
def test_check_deploy_names_the_missing_key_and_the_other_switches(tmp_path):
    done = _run([WUYE, "check", "--deploy"], _env(tmp_path))
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "wuye.E001" in out and "WUYE_SECRET_KEY" in out
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in out


@pytest.mark.once  # child processes without DATABASE_URL
@pytest.mark.parametrize("command", [["runserver", "127.0.0.1:0", "--noreload"], ["run_huey"]])
def test_servers_refuse_to_start_with_the_default_key(tmp_path, command):
    done = _run([WUYE, *command], _env(tmp_path), timeout=60)
    assert done.returncode == 1
    assert "wuye.E001" in done.stderr


@pytest.mark.once  # child processes without DATABASE_URL
@pytest.mark.parametrize("key", [None, "insecure-dev-key-change-me-in-production-0123456789", "short-key",
                                 "a" * 60])
def test_the_wsgi_application_refuses_a_missing_or_weak_key(tmp_path, key):
    env = _env(tmp_path) if key is None else _env(tmp_path, WUYE_SECRET_KEY=key)
    done = _run([sys.executable, "-c", "import wuye.wsgi"], env)
    assert done.returncode != 0 and "wuye.E001" in done.stderr


@pytest.mark.once  # child processes without DATABASE_URL
@pytest.mark.parametrize("extra", [PRODUCTION, {"WUYE_DEBUG": "1"}, {"WUYE_DEMO": "1"}])
def test_the_wsgi_application_starts_with_a_real_key_or_in_debug_or_demo_mode(tmp_path, extra):
    done = _run([sys.executable, "-c", "import wuye.wsgi"], _env(tmp_path, **extra))
    assert done.returncode == 0, done.stderr


@pytest.mark.once  # child processes without DATABASE_URL, or no database at all
def test_production_switches_set_the_headers_and_cookies(tmp_path):
    script = (
        "import django;from django.conf import settings as s\n"
        "from django.test import Client\n"
        "django.setup()\n"
        "r=Client().get('/login/', secure=True, HTTP_HOST='wuye.example.cn')\n"
        "print(r.status_code, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)\n"
        "print(r['Strict-Transport-Security'])\n"
        "print(Client().get('/login/', HTTP_HOST='wuye.example.cn').status_code)\n"
        "print(Client().get('/login/', HTTP_HOST='wuye.example.cn', HTTP_X_FORWARDED_PROTO='https').status_code)\n"
    )
    env = _env(tmp_path, DJANGO_SETTINGS_MODULE="wuye.settings", **PRODUCTION)
    done = _run([sys.executable, "-c", script], env)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert lines[0] == "200 True True ('HTTP_X_FORWARDED_PROTO', 'https')"
    assert lines[1] == "max-age=31536000; includeSubDomains; preload"
    assert lines[2] == "301" and lines[3] == "200"  # plain HTTP is redirected; HTTPS via the proxy is served


def test_every_page_carries_the_content_security_policy(client, alice, estate):
    client.force_login(alice)
    for url in ("/login/", "/", "/estate/units/", f"/estate/units/{estate['units'][0].pk}/"):
        policy = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


@pytest.mark.once  # child processes without DATABASE_URL, or no database at all
def test_no_template_has_inline_script_style_or_handlers():
    import re

    import wuye

    root = Path(wuye.__file__).parent / "templates"
    offenders = []
    for path in root.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", r"<style[\s>]",
                        r"\sstyle=\"", r"\son[a-z]+=\""):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(root)}: {pattern}")
    assert offenders == []


@pytest.mark.parametrize(("remote", "forwarded", "trusted", "expected"), [
    ("203.0.113.5", "", [], "203.0.113.5"),
    ("203.0.113.5", "1.1.1.1", [], "203.0.113.5"),  # no trusted proxy: the header is ignored
    ("10.0.0.2", "198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
    ("10.0.0.2", "6.6.6.6, 198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),  # a client's own header is skipped
    ("10.0.0.2", "198.51.100.1, 10.0.0.9", ["10.0.0.0/8"], "198.51.100.1"),  # two proxies
    ("10.0.0.2", "garbage", ["10.0.0.0/8"], "10.0.0.2"),
    ("203.0.113.5", "198.51.100.1", ["10.0.0.0/8"], "203.0.113.5"),  # not from a proxy: ignored
    ("::1", "2001:db8::5", ["::1"], "2001:db8::5"),
    ("", "", [], ""),
])
def test_client_ip_believes_forwarded_for_only_from_trusted_proxies(settings, remote, forwarded, trusted,
                                                                    expected):
    settings.WUYE_TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
