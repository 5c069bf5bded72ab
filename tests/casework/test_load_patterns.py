"""The load test's patterns (bench/load/patterns.py) still find what they look for on the pages as drawn today:
a pattern that stopped matching would leave the load test's collectors and cashiers browsing without writing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from wuye.accounts.choices import Role
from wuye.billing.models import Payment
from wuye.casework.models import ContactAttempt

spec = importlib.util.spec_from_file_location(
    "load_patterns", Path(__file__).resolve().parents[2] / "bench" / "load" / "patterns.py")
patterns = importlib.util.module_from_spec(spec)
spec.loader.exec_module(patterns)


@pytest.fixture
def fiona(make_user):
    return make_user("fiona", Role.FINANCE)


def test_the_collectors_patterns_find_cards_keys_and_the_promise_form(client, bob_territory, arrears_estate):
    client.force_login(bob_territory)
    page = client.get("/casework/").content.decode()
    cards = patterns.QUICK.findall(page)
    assert cards and patterns.UNIT_LINK.findall(page)
    unit, once, _outcome, task, party = cards[0]
    r = client.post(f"/casework/units/{unit}/quick/", {"outcome": "busy", "task": task, "party": party,
                                                       "_once": once}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and ContactAttempt.objects.count() == 1
    form = client.get(f"/casework/units/{unit}/contact/?outcome=promised&party={party}&task={task}").content.decode()
    assert patterns.ONCE.search(form)


def test_the_cashiers_pattern_finds_the_desk_forms_key_first(client, fiona, arrears_estate):
    client.force_login(fiona)
    unit = arrears_estate["units"][0]
    page = client.get(f"/billing/units/{unit.pk}/").content.decode()
    key = patterns.ONCE.search(page)
    assert key and key.start() > page.index('data-testid="desk-payment"')
    r = client.post(f"/billing/units/{unit.pk}/", {"amount": "50.00", "method": "cash", "tendered": "50.00",
                                                   "payer_name": "压测", "_once": key.group(1)})
    assert patterns.PAYMENT_ID.search(r["Location"]).group(1) == str(Payment.objects.get().pk)
