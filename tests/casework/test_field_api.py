"""The REST API for field work: a visit (outcome, the person met, a photo kept as evidence) and a transfer recorded
at the door for finance to confirm — the same permissions, territory and checks as the pages, junk refused with
a 4xx in Chinese, another project's unit refused as not found."""

import datetime as dt
import io

import pytest
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from tests.casework.conftest import run
from wuye.accounts.choices import Role
from wuye.accounts.services import territory_assign
from wuye.billing.models import Bill, Payment
from wuye.casework.models import ContactAttempt, VisitPhoto
from wuye.dunning.models import Episode, Task
from wuye.estate.models import Building, Project, Unit
from wuye.portal.models import FieldPayment

pytestmark = pytest.mark.django_db


def png(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


def upload(data: bytes, name="门口.png"):
    f = io.BytesIO(data)
    f.name = name
    return f


def fields(response) -> dict[str, str]:
    out = response.json()["error"]["fields"]
    return {k: v if isinstance(v, str) else "；".join(map(str, v)) for k, v in out.items()}


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def api(bob_territory):
    return as_user(bob_territory)


@pytest.fixture
def other_project(arrears_estate, make_user, alice):
    """A second project with one unit and its own collector (erin)."""
    other = Project.objects.create(code="T2", name="乙项目", city="杭州", developer=arrears_estate["developer"])
    building = Building.objects.create(project=other, code="1", name="1幢", floors=2)
    far = Unit.objects.create(project=other, building=building, floor=1, number="101", code="Y-101",
                              property_type="low_rise", area="90")
    erin = make_user("erin", Role.COLLECTOR)
    territory_assign(actor=alice, user=erin, building=building)
    return {"project": other, "unit": far, "collector": erin}


# -- visits ----------------------------------------------------------------------------------------------------


def test_a_visit_with_a_photo_through_the_api_is_kept_with_its_hash(api, unit, bob_territory):
    run(dt.date(2026, 2, 20))
    task = Task.objects.create(project=unit.project, unit=unit, kind="visit", title="上门沟通",
                               due_on=timezone.localdate(), assigned_to=bob_territory)
    r = api.post("/api/v1/visits/", {"unit": unit.pk, "outcome": "notice_left", "note": "通知塞入门缝",
                                     "task": task.pk, "photo": upload(png())}, format="multipart")
    assert r.status_code == 201, r.content
    body = r.json()
    shot = VisitPhoto.objects.get(unit=unit)
    assert body["outcome"] == "notice_left" and body["outcome_label"]
    assert body["photos"] == [{"id": shot.pk, "sha256": shot.sha256, "size": shot.size,
                               "content_type": "image/png", "uploaded_at": body["photos"][0]["uploaded_at"],
                               "url": f"/casework/photos/{shot.pk}/"}]
    assert shot.uploaded_by == bob_territory and shot.contact.channel == "visit"
    # the photo shows on the unit's evidence (the case page) for those who may see the unit
    client = APIClient()
    client.force_login(bob_territory)
    assert shot.sha256 in client.get(f"/casework/units/{unit.pk}/case/").content.decode() \
        or shot.sha256 in client.get(f"/casework/units/{unit.pk}/").content.decode()


def test_a_visit_upload_retried_with_its_idempotency_key_is_kept_once(api, unit, bob_territory):
    """A phone on a weak signal sends the visit again: with the same key (decision 204) the photo and the
    contact are kept once and the retry gets the first answer; another photo under the same key is refused."""
    run(dt.date(2026, 2, 20))
    form = {"unit": unit.pk, "outcome": "notice_left", "note": "通知塞入门缝"}
    first = api.post("/api/v1/visits/", {**form, "photo": upload(png())}, format="multipart",
                     HTTP_IDEMPOTENCY_KEY="visit-retry-000000001")
    again = api.post("/api/v1/visits/", {**form, "photo": upload(png())}, format="multipart",
                     HTTP_IDEMPOTENCY_KEY="visit-retry-000000001")
    assert first.status_code == again.status_code == 201, first.content
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert VisitPhoto.objects.filter(unit=unit).count() == 1
    assert ContactAttempt.objects.filter(unit=unit, channel="visit").count() == 1
    other = api.post("/api/v1/visits/", {**form, "photo": upload(png((80, 60)))}, format="multipart",
                     HTTP_IDEMPOTENCY_KEY="visit-retry-000000001")
    assert other.status_code == 422 and VisitPhoto.objects.filter(unit=unit).count() == 1


def test_a_visit_without_a_photo_is_json_and_finding_nobody_keeps_the_class(api, unit, bob_territory):
    run(dt.date(2026, 2, 20))
    before = Episode.objects.get(unit=unit, closed_on__isnull=True).account_class
    r = api.post("/api/v1/visits/", {"unit": unit.pk, "outcome": "not_home"}, format="json")
    assert r.status_code == 201 and r.json()["photos"] == []
    assert Episode.objects.get(unit=unit, closed_on__isnull=True).account_class == before
    r = api.post("/api/v1/visits/", {"unit": unit.pk, "outcome": "met", "person_met": "王阿姨",
                                     "relationship": "parent"}, format="json")
    assert r.status_code == 201 and (r.json()["person_met"], r.json()["relationship"]) == ("王阿姨", "parent")


@pytest.mark.parametrize("payload, field", [
    ({"outcome": "no_answer"}, "outcome"),  # a call outcome is not a visit outcome
    ({"outcome": "knock knock"}, "outcome"),
    ({}, "outcome"),
    ({"outcome": "notice_left"}, "photo"),  # a posted notice needs its photo
    ({"outcome": "met"}, "relationship"),
    ({"outcome": "met", "relationship": "cousin"}, "relationship"),
    ({"outcome": "not_home", "person_met": "王" * 51}, "person_met"),
    ({"outcome": "not_home", "on": "2026-13-40"}, "on"),
    ({"outcome": "not_home", "on": "2999-01-01"}, "on"),
    ({"outcome": "not_home", "task": "abc"}, "task"),
    ({"outcome": "not_home", "task": 10**30}, "task"),
    ({"outcome": "not_home", "task": 999999}, "task"),
    ({"outcome": "not_home", "party": 999999}, "party"),
])
def test_junk_visits_are_refused_with_a_field_message(api, unit, payload, field):
    run(dt.date(2026, 2, 20))
    r = api.post("/api/v1/visits/", {"unit": unit.pk, **payload}, format="json")
    assert r.status_code == 400, r.content
    assert field in fields(r)
    assert not ContactAttempt.objects.filter(unit=unit).exists()


@pytest.mark.parametrize("data, name", [
    (b"", "空.png"),
    (b"MZ\x90\x00 not a photo at all", "photo.png"),  # named .png, is not one
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.svg"),
])
def test_junk_photos_are_refused_and_nothing_is_recorded(api, unit, data, name):
    run(dt.date(2026, 2, 20))
    r = api.post("/api/v1/visits/", {"unit": unit.pk, "outcome": "notice_left", "photo": upload(data, name)},
                 format="multipart")
    assert r.status_code == 400 and "photo" in fields(r)
    assert not ContactAttempt.objects.filter(unit=unit).exists() and not VisitPhoto.objects.exists()


def test_a_photo_over_the_limit_is_refused(api, unit, settings):
    run(dt.date(2026, 2, 20))
    settings.WUYE_VISIT_PHOTO_MAX_BYTES = 200
    r = api.post("/api/v1/visits/", {"unit": unit.pk, "outcome": "notice_left",
                                     "photo": upload(png((300, 300)))}, format="multipart")
    assert r.status_code == 400 and "过大" in fields(r)["photo"]
    assert not VisitPhoto.objects.exists()


def test_visits_outside_the_territory_or_project_are_refused(api, arrears_estate, other_project, unit):
    run(dt.date(2026, 2, 20))
    for far in (arrears_estate["units"][12], other_project["unit"]):  # building 2; another project
        r = api.post("/api/v1/visits/", {"unit": far.pk, "outcome": "not_home"}, format="json")
        assert r.status_code == 404
    erin = as_user(other_project["collector"])
    assert erin.post("/api/v1/visits/", {"unit": unit.pk, "outcome": "not_home"},
                     format="json").status_code == 404
    assert APIClient().post("/api/v1/visits/", {"unit": unit.pk, "outcome": "not_home"},
                            format="json").status_code in (401, 403)
    assert not ContactAttempt.objects.exists()


# -- field payments --------------------------------------------------------------------------------------------


def _transfer(unit, **extra):
    return {"unit": unit.pk, "amount_fen": 17_900, "method": "wechat", "reference": "4200001234202602200001",
            "paid_on": timezone.localdate().isoformat(), **extra}


def test_a_transfer_recorded_through_the_api_is_posted_when_finance_confirms(api, unit, bob_territory, make_user):
    run(dt.date(2026, 2, 20))
    first = Bill.objects.filter(unit=unit).order_by("period_start").first()
    r = api.post("/api/v1/field-payments/", _transfer(unit, bill_ids=[first.pk], note="业主扫码转账"), format="json")
    assert r.status_code == 201, r.content
    row = FieldPayment.objects.get()
    assert r.json()["status"] == "pending" and r.json()["bill_ids"] == [first.pk] and not Payment.objects.exists()
    # the same reference twice is refused
    again = api.post("/api/v1/field-payments/", _transfer(unit), format="json")
    assert again.status_code == 400 and "reference" in fields(again)
    # a collector may not list or confirm
    assert api.get("/api/v1/field-payments/").status_code == 403
    assert api.post(f"/api/v1/field-payments/{row.pk}/decision/", {"decision": "confirm"},
                    format="json").status_code == 403
    finance = as_user(make_user("fin", Role.FINANCE))
    listed = finance.get("/api/v1/field-payments/").json()
    assert [x["id"] for x in listed["results"]] == [row.pk]
    assert finance.get("/api/v1/field-payments/?status=bogus").status_code == 400
    assert finance.post(f"/api/v1/field-payments/{row.pk}/decision/", {"decision": "maybe"},
                        format="json").status_code == 400
    done = finance.post(f"/api/v1/field-payments/{row.pk}/decision/", {"decision": "confirm", "note": "已到账"},
                        format="json")
    assert done.status_code == 200 and done.json()["status"] == "confirmed" and done.json()["receipt_no"]
    payment = Payment.objects.get()
    assert payment.amount_fen == 17_900 and payment.reference == row.reference
    twice = finance.post(f"/api/v1/field-payments/{row.pk}/decision/", {"decision": "confirm"}, format="json")
    assert twice.status_code == 400 and Payment.objects.count() == 1
    assert finance.post("/api/v1/field-payments/999999/decision/", {"decision": "confirm"},
                        format="json").status_code == 404


def test_finance_rejects_with_a_reason(api, unit, make_user):
    run(dt.date(2026, 2, 20))
    row = api.post("/api/v1/field-payments/", _transfer(unit), format="json").json()
    finance = as_user(make_user("fin", Role.FINANCE))
    r = finance.post(f"/api/v1/field-payments/{row['id']}/decision/", {"decision": "reject"}, format="json")
    assert r.status_code == 400 and "note" in fields(r)
    r = finance.post(f"/api/v1/field-payments/{row['id']}/decision/", {"decision": "reject", "note": "未见此笔"},
                     format="json")
    assert r.status_code == 200 and r.json()["status"] == "rejected" and not Payment.objects.exists()


@pytest.mark.parametrize("extra, field", [
    ({"amount_fen": 0}, "amount_fen"),
    ({"amount_fen": -5}, "amount_fen"),
    ({"amount_fen": "12.5"}, "amount_fen"),
    ({"amount_fen": 10**30}, "amount_fen"),
    ({"amount_fen": 10**12}, "amount_fen"),  # over the method's limit
    ({"method": "cash"}, "method"),  # never cash into a collector's hand
    ({"reference": ""}, "reference"),
    ({"reference": "x" * 65}, "reference"),
    ({"paid_on": "yesterday"}, "paid_on"),
    ({"paid_on": "2999-01-01"}, "paid_on"),
    ({"paid_on": "2020-01-01"}, "paid_on"),  # older than a week: finance matches it from the bank statement
    ({"bill_ids": [999999]}, "bill_ids"),
    ({"bill_ids": "1,2"}, "bill_ids"),
    ({"party": 999999}, "party"),
    ({"note": "备" * 301}, "note"),
])
def test_junk_transfers_are_refused_with_a_field_message(api, unit, extra, field):
    run(dt.date(2026, 2, 20))
    r = api.post("/api/v1/field-payments/", _transfer(unit, **extra), format="json")
    assert r.status_code == 400, r.content
    assert field in fields(r)
    assert not FieldPayment.objects.exists()


def test_transfers_outside_the_territory_or_project_or_role_are_refused(api, unit, arrears_estate, other_project,
                                                                         make_user):
    run(dt.date(2026, 2, 20))
    for far in (arrears_estate["units"][12], other_project["unit"]):
        assert api.post("/api/v1/field-payments/", _transfer(far), format="json").status_code == 404
    assert as_user(other_project["collector"]).post("/api/v1/field-payments/", _transfer(unit),
                                                    format="json").status_code == 404
    for role in (Role.FINANCE, Role.ENGINEERING, Role.LEGAL):
        r = as_user(make_user(f"u-{role}", role)).post("/api/v1/field-payments/", _transfer(unit), format="json")
        assert r.status_code == 403 and "收费员" in r.json()["error"]["message"]
    assert not FieldPayment.objects.exists()


def test_the_endpoints_are_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/v1/visits/", "/api/v1/field-payments/", "/api/v1/field-payments/{id}/decision/"):
        assert path in schema
