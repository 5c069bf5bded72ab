"""Junk in every field of every page and endpoint, as a user allowed to use them, is never a 500.

Every URL pattern of the URL conf is walked (``test_cross_scope._routes``) with the objects of the world
``test_cross_scope.world`` builds (the ids of the caller's own project: the handler gets past its scope
check and reads the body). Each is asked by GET with junk in the query string and by POST with junk in the
body, under every parameter name a page or an endpoint reads — the names are collected from the source
(``request.POST.get("…")`` and the like), from every form and from every serializer, so a new field is
covered without touching this file. The junk: text where a number or a date goes, an empty value, ``1e9``,
a number past 64 bits, ``1e30``, ``-Infinity`` and ``NaN`` (amounts no Decimal context can round to fen), a
list where one value goes (``?x=1&x=abc`` and JSON lists) and a JSON object.

Each answer must be below 500; a 4xx page must carry a Chinese message (the error page, or the form again
with its errors), an API 4xx the one error shape."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import get_resolver

from .test_cross_scope import STRINGS, _derive, _params, _routes, _url, world  # noqa: F401

SRC = Path(__file__).resolve().parents[2] / "src" / "wuye"
HAN = re.compile(r"[\u4e00-\u9fff]")
# ... and dates at both ends of what a date field parses (the day after 9999-12-31 does not exist; 0001-01-01
# cannot be made local), and a digit ``str.isdigit()`` takes that ``int()`` refuses (red-team review)
JUNK = ["abc", "", "1e9", "9" * 25, "1e30", "-Infinity", "NaN", "9999-12-31", "0001-01-01", "\u00b2"]
# answers of 500 and above that are meant, with the reason
MEANT_5XX = {
    "/api/v1/pay/wechat/notify/": (503, "no WeChat Pay keys in this world: answered 503 so that WeChat retries"),
}
# patterns not walked here, with the reason
NOT_WALKED = {
    "admin/": "Django admin (its own forms; superusers only)",
    "logout/": "ends the session the walk runs in (nothing read from the body)",
    "api/schema/": "the OpenAPI schema (schemathesis walks the API with it)",
}


def _names() -> set[str]:
    """Every parameter name a view reads: from the source, the forms and the serializers."""
    names: set[str] = set()
    pattern = re.compile(r"""(?:request\.(?:POST|GET|data|query_params)|\bparams|\bq|\bp|\bdata|\bincoming)"""
                         r"""(?:\.get|\.getlist)?[(\[]\s*["'](\w+)["']""")
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        names.update(pattern.findall(path.read_text(encoding="utf-8")))
    from django import forms
    from rest_framework import serializers

    for config in apps.get_app_configs():
        if not config.name.startswith("wuye."):
            continue
        for module_name in ("forms", "api", "serializers", "filters", "views"):
            try:
                module = importlib.import_module(f"{config.name}.{module_name}")
            except ImportError:
                continue
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, forms.BaseForm):
                    names.update(cls.base_fields)
                elif issubclass(cls, serializers.Serializer):
                    names.update(getattr(cls, "_declared_fields", {}))
                    meta_fields = getattr(getattr(cls, "Meta", None), "fields", None)
                    if isinstance(meta_fields, (list, tuple)):
                        names.update(meta_fields)
                elif hasattr(cls, "base_filters"):
                    names.update(cls.base_filters)
    names.discard("csrfmiddlewaretoken")
    return names


def _requests(names: list[str]):
    """(label, query/body as a form, JSON body) — one value everywhere, then lists and objects."""
    for value in JUNK:
        yield repr(value), {n: value for n in names}, {n: value for n in names}
    yield "list", {n: ["1", "abc"] for n in names}, {n: [1, "abc"] for n in names}
    yield "object", {n: "{}" for n in names}, {n: {"a": "1e9"} for n in names}


def _chinese(response) -> bool:
    ctype = response.get("Content-Type", "")
    if "json" in ctype:
        body = response.json()
        return isinstance(body, dict) and "error" in body and bool(HAN.search(str(body["error"])))
    return bool(HAN.search(response.content.decode("utf-8", "replace")))


@pytest.mark.slow
def test_junk_in_any_field_of_any_page_or_endpoint_is_never_a_500(client, world, admin_user, tmp_path,  # noqa: F811
                                                                  settings):
    from rest_framework.test import APIClient

    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    t1 = world["t1"]
    names = sorted(_names())
    assert len(names) > 100, names  # the collection found the fields
    api = APIClient()
    api.force_authenticate(admin_user)
    client.force_login(admin_user)
    walked, failures, unexplained = 0, [], []
    for route, _pattern in _routes(get_resolver().url_patterns):
        if any(route.startswith(p) for p in NOT_WALKED):
            continue
        if route.endswith("(?P<format>[a-z0-9]+)/?$") or "drf_format_suffix" in route:
            continue
        values = {}
        for word, _converter, name in _params(route):
            if name in STRINGS:
                values[name] = STRINGS[name]
                continue
            obj = _id_for(route, word, name, t1, world["maker"])
            values[name] = obj if obj is not None else 1
        url = _url(route, values)
        for label, form, body in _requests(names):
            for method in ("get", "post"):
                try:
                    if url.startswith("/api/"):
                        response = (api.get(url, form) if method == "get" else
                                    api.post(url, body, format="json"))
                    else:
                        response = getattr(client, method)(url, form)
                except Exception as exc:  # noqa: BLE001 - a 500 (the test client re-raises it)
                    failures.append(f"{method.upper()} {url} {label}: {type(exc).__name__}: {str(exc)[:120]}")
                    continue
                walked += 1
                if response.status_code >= 500 and MEANT_5XX.get(url, (0,))[0] != response.status_code:
                    failures.append(f"{method.upper()} {url} {label}: {response.status_code}")
                elif 400 <= response.status_code < 500 and response.status_code != 405 \
                        and not route.startswith("p/") and not _chinese(response):
                    unexplained.append(f"{method.upper()} {url} {label}: {response.status_code} without a message")
                if "_auth_user_id" not in client.session:
                    client.force_login(admin_user)
    print(f"walked {walked} requests")
    assert failures == [], f"{len(failures)} requests failed:\n" + "\n".join(sorted(set(failures))[:80])
    assert unexplained == [], "\n".join(sorted(set(unexplained))[:40])
    assert walked > 2000, walked


def _id_for(route, word, name, project, user):
    from .test_cross_scope import DESK_KINDS, ROUTE_SEGMENTS, SEGMENTS

    if name == "hold_pk":
        label, extra = "dunning.Hold", {}
    elif word == "approvals":
        label, extra = DESK_KINDS["adjustment"], {}
    else:
        override = next((v for (prefix, w), v in ROUTE_SEGMENTS.items() if route.startswith(prefix) and w == word),
                        None)
        if not (override or word in SEGMENTS):
            return None
        label, extra = override or SEGMENTS[word]
    obj = _derive(label, extra, project, user)
    return obj.pk if obj is not None else None
