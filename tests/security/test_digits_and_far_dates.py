"""Inputs from the red-team review that the junk walk (``test_junk_inputs``) did not try.

Digits that are not ASCII: ``str.isdigit()`` is True for "²" but ``int("²")`` raises — ids read with
``isdigit()`` then ``int()`` were 500s on ten pages, two of them public (the owner's pay and dispute forms).
"١٢" (Arabic-Indic) and "１２" (full-width) are digits to ``int()`` too; none of them is an id here.

Dates at both ends: ``?date=9999-12-31`` on the takings page was a 500 (the day after it does not exist),
``0001-01-01`` a 500 in the time-zone conversion. Every GET route is walked with every date-like parameter
at both ends, as a date, a month and a year.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import get_resolver

from wuye.common.params import BadParameter, id_or_none, id_param, int_param

from .test_cross_scope import SEGMENTS, STRINGS, _derive, _params, _routes, _url, world  # noqa: F401

DIGITS = ["\u00b2", "\u0661\u0662", "\uff11\uff12"]  # ², ١٢, １２


@pytest.mark.parametrize("raw", DIGITS + ["", "0", "-1", "1.5", "9" * 19, "9" * 20, None, " 7 x"])
def test_an_id_is_ascii_digits_within_64_bits(raw):
    assert id_or_none(raw) is None
    with pytest.raises(BadParameter):
        id_param({"x": raw or "junk"}, "x")


def test_an_id_typed_plainly_is_read():
    assert id_or_none(" 42 ") == 42 and id_or_none(str(2**63 - 1)) == 2**63 - 1
    assert id_param({"x": "42"}, "x") == 42 and int_param({"x": "-3"}, "x") == -3


def test_non_ascii_digits_in_ids_are_never_a_500_and_change_nothing(client, world, admin_user):  # noqa: F811
    from django.test import Client

    from wuye.accounts.models import Territory
    from wuye.billing.models import Adjustment
    from wuye.casework.models import Dispute
    from wuye.estate.models import Unit
    from wuye.legal.models import DeadlineNotice
    from wuye.portal.links import link_create
    from wuye.portal.models import PaymentOrder

    t1 = world["t1"]
    unit = Unit.objects.filter(project=t1).order_by("pk").first()
    _, token = link_create(unit=unit, actor=admin_user)
    owner = Client()
    client.force_login(admin_user)
    before = (Territory.objects.count(), list(Adjustment.objects.values_list("status", flat=True)),
              Dispute.objects.count(), PaymentOrder.objects.count(),
              DeadlineNotice.objects.filter(read_at__isnull=False).count())
    answers = {}
    for raw in DIGITS:
        for label, (method, url, data) in {
            "statement ?paid": ("get", f"/billing/units/{unit.pk}/?paid={raw}", None),
            "statement ?party": ("get", f"/billing/units/{unit.pk}/?party={raw}", None),
            "notices read": ("post", "/legal/notices/read/", {"notice": raw}),
            "clock numbers": ("post", "/legal/numbers/", {"project": raw}),
            "bank statement": ("post", "/banking/", {"account": raw}),
            "territory": ("post", f"/casework/desk/territories/?project={t1.pk}",
                          {"project": t1.pk, "building": unit.building_id, "to_user": raw}),
            "approvals": ("post", "/casework/desk/approvals/", {"items": f"adjustment:{raw}", "approve": "1"}),
            "doorstep party": ("post", f"/portal-admin/doorstep/{unit.pk}/send/", {"party": raw}),
            "doorstep contact": ("post", f"/portal-admin/doorstep/{unit.pk}/send/", {"contact": raw}),
            "owner pay": ("post", f"/p/{token}/pay/", {"period": raw, "provider": "wechat"}),
            "owner dispute": ("post", f"/p/{token}/dispute/", {"period": raw, "text": "金额不对"}),
        }.items():
            who = owner if url.startswith("/p/") else client
            response = who.get(url) if method == "get" else who.post(url, data)
            answers[f"{label} {raw!r}"] = response.status_code
    assert all(code < 500 for code in answers.values()), answers
    assert (Territory.objects.count(), list(Adjustment.objects.values_list("status", flat=True)),
            Dispute.objects.count(), PaymentOrder.objects.count(),
            DeadlineNotice.objects.filter(read_at__isnull=False).count()) == before


FAR = ["9999-12-31", "0001-01-01"]
SRC = Path(__file__).resolve().parents[2] / "src" / "wuye"
# parameter names that carry a date, a month or a year: these, and every name the source reads with date_param()
DATE_NAMES = {"date", "as_of", "on", "day", "from", "to", "start", "end", "since", "until", "due_on", "paid_on",
              "spent_on", "first_due", "promised_on", "follow_up_on", "delivered_on", "signed_on", "valid_from",
              "valid_to", "date_from", "date_to", "opened_on", "served_on", "hold_until"}
MONTH_NAMES = {"period", "month"}
SKIPPED = ("admin/", "logout", "api/schema", "p/", "api/v1/pay", "api/v1/receipts", "gongshi")


def _date_names() -> set[str]:
    names = set(DATE_NAMES)
    for path in SRC.rglob("*.py"):
        names.update(re.findall(r"date_param\([^,()]+,\s*\"(\w+)\"", path.read_text(encoding="utf-8")))
    return names


@pytest.mark.slow
def test_far_dates_in_any_get_route_are_never_a_500(client, world, admin_user):  # noqa: F811
    from rest_framework.test import APIClient

    t1 = world["t1"]
    names = sorted(_date_names())
    client.force_login(admin_user)
    api = APIClient()
    api.force_authenticate(admin_user)
    walked, failures = 0, []
    for route, _pattern in _routes(get_resolver().url_patterns):
        if route.startswith(SKIPPED) or "format" in route:
            continue
        values = {}
        for word, _converter, name in _params(route):
            if name in STRINGS:
                values[name] = STRINGS[name]
            elif word in SEGMENTS and (obj := _derive(*SEGMENTS[word], t1, world["maker"])) is not None:
                values[name] = obj.pk
            else:
                break
        else:
            url = _url(route, values)
            for far in FAR:
                query = {n: far for n in names} | {n: far[:7] for n in MONTH_NAMES} | {"year": far[:4], "quarter": 1}
                try:
                    response = (api if url.startswith("/api/") else client).get(url, query)
                except Exception as exc:  # noqa: BLE001 - a 500 (the test client re-raises it)
                    failures.append(f"GET {url} {far}: {type(exc).__name__}: {str(exc)[:120]}")
                    continue
                walked += 1
                if response.status_code >= 500:
                    failures.append(f"GET {url} {far}: {response.status_code}")
                if "_auth_user_id" not in client.session:
                    client.force_login(admin_user)
    assert failures == [], "\n".join(failures)
    assert walked > 300, walked
