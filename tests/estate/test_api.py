import pytest
from rest_framework.test import APIClient

from wuye.accounts.models import AuditEvent


@pytest.fixture
def api():
    return APIClient()


def test_the_openapi_schema_is_served(api, alice):
    api.force_authenticate(alice)
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/units/" in schema["paths"]
    assert "/api/v1/contacts/{id}/reveal/" in schema["paths"]


def test_the_api_requires_login(api, estate):
    assert api.get("/api/v1/units/").status_code in (401, 403)


def test_units_are_paginated_and_filtered(api, alice, estate):
    api.force_authenticate(alice)
    page = api.get("/api/v1/units/").json()
    assert page["count"] == 36 and len(page["results"]) == 36
    b2 = estate["buildings"][1].pk
    filtered = api.get("/api/v1/units/", {"building": b2, "floor": 3}).json()
    assert {u["code"] for u in filtered["results"]} == {"2-301", "2-302"}
    assert filtered["results"][0]["owner_name"].startswith("业主")
    small = api.get("/api/v1/units/", {"page_size": 5, "page": 2}).json()
    assert small["count"] == 36 and len(small["results"]) == 5
    assert [u["code"] for u in small["results"]] == [u["code"] for u in page["results"][5:10]]
    assert api.get("/api/v1/units/", {"page": 99}).status_code == 404


def test_units_can_be_searched_by_owner_name_and_phone_tail(api, alice, estate):
    api.force_authenticate(alice)
    by_name = api.get("/api/v1/units/", {"q": "业主005"}).json()
    assert [u["code"] for u in by_name["results"]] == ["1-301"]
    by_phone = api.get("/api/v1/units/", {"q": "00000005"}).json()
    assert [u["code"] for u in by_phone["results"]] == ["1-301"]


def test_a_bad_filter_value_is_a_clear_400(api, alice, estate):
    api.force_authenticate(alice)
    response = api.get("/api/v1/units/", {"state": "flying"})
    assert response.status_code == 400
    assert "state" in response.json()["error"]["fields"]


def test_a_collector_gets_only_their_territory_and_404_outside(api, bob_territory, estate):
    api.force_authenticate(bob_territory)
    data = api.get("/api/v1/units/").json()
    assert data["count"] == 12
    assert all(u["building"] == estate["buildings"][0].pk for u in data["results"])
    outside = next(u for u in estate["units"] if u.building_id != estate["buildings"][0].pk)
    inside = next(u for u in estate["units"] if u.building_id == estate["buildings"][0].pk)
    assert api.get(f"/api/v1/units/{inside.pk}/").status_code == 200
    assert api.get(f"/api/v1/units/{outside.pk}/").status_code == 404
    assert api.get("/api/v1/units/", {"building": estate["buildings"][1].pk}).json()["count"] == 0


def test_a_collector_cannot_read_contacts_outside_the_territory(api, bob_territory, estate):
    from wuye.estate.models import ContactPoint

    api.force_authenticate(bob_territory)
    visible = api.get("/api/v1/contacts/").json()
    assert visible["count"] == 12
    outside_unit = estate["units"][12]
    contact = ContactPoint.objects.get(party__occupancies__unit=outside_unit)
    assert api.get(f"/api/v1/contacts/{contact.pk}/").status_code == 404
    assert api.post(f"/api/v1/contacts/{contact.pk}/reveal/").status_code == 404
    assert not AuditEvent.objects.filter(verb="pii.reveal").exists()


def test_phones_are_masked_for_service_staff_and_reveal_is_logged(api, dave, estate):
    api.force_authenticate(dave)
    contacts = api.get("/api/v1/contacts/").json()["results"]
    first = contacts[0]
    assert first["masked"] is True
    assert first["value"] == "138****0001"
    revealed = api.post(f"/api/v1/contacts/{first['id']}/reveal/").json()
    assert revealed == {"value": "13800000001"}
    event = AuditEvent.objects.get(verb="pii.reveal")
    assert event.actor == dave and event.object_id == str(first["id"])


def test_legal_sees_phones_in_clear(api, carol, estate):
    api.force_authenticate(carol)
    first = api.get("/api/v1/contacts/").json()["results"][0]
    assert first["value"] == "13800000001" and first["masked"] is False


def test_the_audit_log_is_closed_to_collectors(api, bob_territory, alice):
    api.force_authenticate(bob_territory)
    assert api.get("/api/v1/audit-events/").status_code == 403
    api.force_authenticate(alice)
    assert api.get("/api/v1/audit-events/").status_code == 200
