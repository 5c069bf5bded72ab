"""A form or API request that arrives twice records once (decision 204, ``wuye.common.once``): the desk's
payment form double-clicked, a one-tap outcome tapped twice, a retried API call — and two *processes* (two
web servers) receiving the same form at the same moment. A submission that failed leaves its key free."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from tests.processes import race, read_back
from wuye.accounts.choices import Role
from wuye.billing.models import Adjustment, Payment
from wuye.billing.services import bill_generate
from wuye.casework.models import ContactAttempt
from wuye.common.models import Submission
from wuye.common.once import REPLAYED, submissions_purge


@pytest.fixture
def fiona(make_user):
    return make_user("fiona", Role.FINANCE)


@pytest.fixture
def owing(alice, billed_estate):
    for month in (3, 4, 5):
        bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, month, 1))
    return billed_estate["units"][0]


def _keys(page: str) -> list[str]:
    return re.findall(r'name="_once" value="([A-Za-z0-9_-]+)"', page)


def _desk_key(client, unit) -> str:
    page = client.get(f"/billing/units/{unit.pk}/").content.decode()
    form = page[page.index('data-testid="desk-payment"'):]
    return _keys(form[:form.index("</form>")])[0]


def test_the_desk_payment_form_sent_twice_records_one_payment(client, fiona, owing):
    client.force_login(fiona)
    key = _desk_key(client, owing)
    form = {"amount": "100.00", "method": "cash", "tendered": "100", "payer_name": "业主001", "_once": key}
    first = client.post(f"/billing/units/{owing.pk}/", form)
    second = client.post(f"/billing/units/{owing.pk}/", form)
    payment = Payment.objects.get()
    assert first.status_code == second.status_code == 302
    assert first.url == second.url == f"/billing/units/{owing.pk}/?paid={payment.pk}"
    assert REPLAYED in [m.message for m in get_messages(second.wsgi_request)]
    assert Submission.objects.filter(key=key).values_list("result_url", "path").get() == (
        first.url, f"/billing/units/{owing.pk}/")
    # a new drawing of the form has a new key: the next payment is a payment
    again = client.post(f"/billing/units/{owing.pk}/", {**form, "_once": _desk_key(client, owing)})
    assert again.status_code == 302 and Payment.objects.count() == 2


def test_every_drawing_of_a_form_has_its_own_key_and_each_recording_form_has_one(client, fiona, owing):
    client.force_login(fiona)
    first = client.get(f"/billing/units/{owing.pk}/").content.decode()
    second = client.get(f"/billing/units/{owing.pk}/").content.decode()
    assert set(_keys(first)).isdisjoint(_keys(second))
    forms = [f for f in re.findall(r'<form method="post".*?</form>', first, re.S) if 'action="/logout/"' not in f]
    assert forms and all(len(_keys(f)) == 1 for f in forms), [f[:120] for f in forms if len(_keys(f)) != 1]


def test_a_form_that_came_back_with_errors_leaves_its_key_for_the_corrected_one(client, fiona, owing):
    client.force_login(fiona)
    key = _desk_key(client, owing)
    wrong = client.post(f"/billing/units/{owing.pk}/", {"amount": "-5", "method": "cash", "_once": key})
    assert wrong.status_code == 200 and not Payment.objects.exists() and not Submission.objects.exists()
    right = client.post(f"/billing/units/{owing.pk}/", {"amount": "100.00", "method": "cash", "_once": key})
    assert right.status_code == 302 and Payment.objects.count() == 1


def test_a_refusal_shown_on_the_next_page_also_frees_the_key(client, alice, owing):
    """The adjustment request answers a refusal with a redirect and an error message: nothing was recorded,
    so the same form, corrected, still goes through."""
    client.force_login(alice)
    bill = owing.bills.order_by("period_start").first()
    key = _keys(client.get(f"/billing/units/{owing.pk}/").content.decode())[0]
    refused = client.post(f"/billing/bills/{bill.pk}/adjust/", {"kind": "waive_principal", "amount": "", "reason": "", "_once": key})
    assert refused.status_code == 302 and not Adjustment.objects.exists()
    assert any(m.level_tag == "error" for m in get_messages(refused.wsgi_request))
    assert not Submission.objects.exists()
    done = client.post(f"/billing/bills/{bill.pk}/adjust/", {"kind": "waive_principal", "amount": "10.00",
                                                            "reason": "维修期间减免", "_once": key})
    assert done.status_code == 302 and Adjustment.objects.count() == 1
    assert client.post(f"/billing/bills/{bill.pk}/adjust/", {"kind": "waive_principal", "amount": "10.00",
                                                            "reason": "维修期间减免", "_once": key}).status_code == 302
    assert Adjustment.objects.count() == 1


def test_a_bad_key_is_refused_and_records_nothing(client, fiona, owing):
    client.force_login(fiona)
    for bad in ("short", "x" * 65, "有中文的键有中文的键有中文的键有中文", "a b c d e f g h i j k l"):
        r = client.post(f"/billing/units/{owing.pk}/", {"amount": "1.00", "method": "cash", "_once": bad})
        assert r.status_code == 400 and "提交键无效" in r.content.decode()
    assert not Payment.objects.exists()


def test_a_key_taken_on_one_form_is_refused_on_another(client, fiona, alice, owing, billed_estate):
    client.force_login(fiona)
    key = _desk_key(client, owing)
    client.post(f"/billing/units/{owing.pk}/", {"amount": "1.00", "method": "cash", "_once": key})
    other = billed_estate["units"][1]
    r = client.post(f"/billing/units/{other.pk}/", {"amount": "1.00", "method": "cash", "_once": key})
    assert r.status_code == 400 and "另一张表单" in r.content.decode()
    assert list(Payment.objects.values_list("unit_id", flat=True)) == [owing.pk]


def test_the_same_key_of_two_users_is_two_submissions(client, fiona, make_user, owing):
    """Keys are the user's own: another cashier's form cannot be answered with this one's result."""
    george = make_user("george", Role.FINANCE)
    form = {"amount": "1.00", "method": "cash", "_once": "k" * 24}
    for user in (fiona, george):
        client.force_login(user)
        assert client.post(f"/billing/units/{owing.pk}/", form).status_code == 302
    assert sorted(Payment.objects.values_list("created_by__username", flat=True)) == ["fiona", "george"]


def test_a_one_tap_outcome_tapped_twice_records_one_contact(client, bob_territory, arrears_estate):
    client.force_login(bob_territory)
    page = client.get("/casework/").content.decode()
    vals = [json.loads(html.unescape(v)) for v in re.findall(r"hx-vals='([^']+)'", page)]
    assert vals and all(len(v["_once"]) >= 16 for v in vals)
    quick = [v for v in vals if "outcome" in v]
    sends = [v for v in vals if "contact" in v]
    assert quick and sends and {v["_once"] for v in quick}.isdisjoint(v["_once"] for v in sends)
    card = quick[0]
    unit_id = int(re.search(r'hx-post="/casework/units/(\d+)/quick/"', page).group(1))
    first = client.post(f"/casework/units/{unit_id}/quick/", card, HTTP_HX_REQUEST="true")
    second = client.post(f"/casework/units/{unit_id}/quick/", {**card, "outcome": "busy"}, HTTP_HX_REQUEST="true")
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert list(ContactAttempt.objects.values_list("outcome", flat=True)) == [card["outcome"]]
    # the cards drawn next carry new keys
    fresh = {json.loads(html.unescape(v))["_once"] for v in re.findall(r"hx-vals='([^']+)'",
                                                                     client.get("/casework/").content.decode())}
    assert card["_once"] not in fresh


def test_the_contact_form_sent_twice_records_one_promise(client, bob_territory, arrears_estate):
    from wuye.casework.models import Promise

    client.force_login(bob_territory)
    unit = arrears_estate["units"][0]
    page = client.get(f"/casework/units/{unit.pk}/contact/?outcome=promised").content.decode()
    form = {"channel": "call", "outcome": "promised", "promised_on": (timezone.localdate() + dt.timedelta(days=5))
            .isoformat(), "on": timezone.localdate().isoformat(), "note": "月底前缴清", "_once": _keys(page)[0]}
    first = client.post(f"/casework/units/{unit.pk}/contact/", form)
    second = client.post(f"/casework/units/{unit.pk}/contact/", form)
    assert first.status_code == second.status_code == 302 and first.url == second.url
    assert ContactAttempt.objects.count() == 1 and Promise.objects.count() == 1


# --- the API: Idempotency-Key ---------------------------------------------------------------------------

def test_an_api_payment_retried_with_its_key_is_answered_again_and_recorded_once(fiona, owing):
    api = APIClient()
    api.force_authenticate(fiona)
    body = {"unit": owing.pk, "amount_fen": 10_000, "method": "cash", "payer_name": "业主001"}
    first = api.post("/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="retry-0001-abcdefgh")
    second = api.post("/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="retry-0001-abcdefgh")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Payment.objects.count() == 1
    other = api.post("/api/v1/payments/", {**body, "amount_fen": 20_000}, format="json",
                     HTTP_IDEMPOTENCY_KEY="retry-0001-abcdefgh")
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert "新的幂等键" in other.json()["error"]["message"]
    bad = api.post("/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="x")
    assert bad.status_code == 400 and "Idempotency-Key" in bad.json()["error"]["fields"]
    assert Payment.objects.count() == 1
    # without a key, as before: each call records
    assert api.post("/api/v1/payments/", body, format="json").status_code == 201
    assert Payment.objects.count() == 2


def test_an_api_call_that_failed_may_be_sent_again_with_its_key(fiona, owing):
    api = APIClient()
    api.force_authenticate(fiona)
    key = "failed-then-fixed-0001"
    refused = api.post("/api/v1/payments/", {"unit": owing.pk, "amount_fen": 0, "method": "cash"}, format="json",
                       HTTP_IDEMPOTENCY_KEY=key)
    assert refused.status_code == 400 and not Submission.objects.exists()
    # the failed attempt's body differs: the key was freed, so this is a first request, not a conflict
    ok = api.post("/api/v1/payments/", {"unit": owing.pk, "amount_fen": 100, "method": "cash"}, format="json",
                  HTTP_IDEMPOTENCY_KEY=key)
    assert ok.status_code == 201 and Payment.objects.count() == 1


def test_old_keys_are_purged_and_recent_ones_kept(fiona, settings):
    settings.WUYE_SUBMISSION_RETENTION_DAYS = 30
    now = timezone.now()
    old = Submission.objects.create(user=fiona, key="o" * 20, path="/x/")
    Submission.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(days=31))
    Submission.objects.create(user=fiona, key="n" * 20, path="/x/")
    assert submissions_purge(now=now) == 1
    assert list(Submission.objects.values_list("key", flat=True)) == ["n" * 20]


# --- two processes ------------------------------------------------------------------------------------------

CHILD = r"""
import json, os, sys, time
from pathlib import Path
os.environ["DJANGO_SETTINGS_MODULE"] = "wuye.settings"
import django
django.setup()
from django.test import Client
from wuye.accounts.models import User

work = Path(sys.argv[1]); me = sys.argv[2]
job = json.loads((work / "job.json").read_text())
client = Client()
client.force_login(User.objects.get(username=job["user"]))
(work / f"ready-{me}").touch()
while not (work / "go").exists():
    time.sleep(0.005)
r = client.post(job["url"], job["form"])
print(json.dumps({"status": r.status_code, "location": r.get("Location", "")}))
"""


def _child_env(tmp_path: Path) -> tuple[dict[str, str], Path | None]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "WUYE_SQLITE_PATH", "REDIS_URL", "PYTEST_XDIST_WORKER")}
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env.update({"WUYE_DATA_DIR": str(data_dir), "WUYE_SECRET_KEY": "once-test-key-" + "k" * 40,
                "WUYE_LOGIN_THROTTLE": "0"})
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        env["DATABASE_URL"] = (f"postgres://{s['USER']}{':' + s['PASSWORD'] if s['PASSWORD'] else ''}"
                               f"@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}")
        return env, None
    import sqlite3

    path = data_dir / "wuye.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    return env, path


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_servers_receiving_the_same_payment_form_at_once_record_it_once(fiona, owing, tmp_path):
    key = "two-servers-0001-abcdef"
    (tmp_path / "job.json").write_text(json.dumps({
        "user": "fiona", "url": f"/billing/units/{owing.pk}/",
        "form": {"amount": "100.00", "method": "cash", "payer_name": "业主001", "_once": key}}))
    env, sqlite_path = _child_env(tmp_path)
    connections.close_all()
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(n)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(3)]
    reports = race(children, tmp_path, range(3), timeout=120)
    read_back(sqlite_path)
    payment = Payment.objects.get()
    assert [r["status"] for r in reports] == [302] * 3
    assert {r["location"] for r in reports} == {f"/billing/units/{owing.pk}/?paid={payment.pk}"}
    assert Submission.objects.filter(key=key).count() == 1
