"""Changing an owner's record from the unit page: each change goes through a service and is audited."""

import datetime as dt

from wuye.accounts.models import AuditEvent
from wuye.estate.models import ContactPoint, Occupancy


def test_a_transfer_ends_the_old_ownership_the_day_before(client, alice, estate):
    client.force_login(alice)
    unit = estate["units"][0]
    response = client.post(f"/estate/units/{unit.pk}/occupancy/", {
        "role": "owner", "kind": "person", "name": "钱新", "id_number": "11010519491231002X",
        "mobile": "13912345678", "start": "2026-03-01"})
    assert response.status_code == 302
    rows = list(Occupancy.objects.filter(unit=unit, role="owner").order_by("start"))
    assert [r.party.name for r in rows] == ["业主001", "钱新"]
    assert rows[0].end == dt.date(2026, 2, 28) and rows[1].end is None
    assert rows[1].party.contacts.get().value == "13912345678"
    assert AuditEvent.objects.filter(verb="occupancy.start.owner", actor=alice, object_id=str(unit.pk)).exists()


def test_a_bad_id_number_is_refused_and_nothing_changes(client, alice, estate):
    client.force_login(alice)
    unit = estate["units"][0]
    response = client.post(f"/estate/units/{unit.pk}/occupancy/", {
        "role": "owner", "kind": "person", "name": "钱新", "id_number": "110105194912310021",
        "mobile": "", "start": "2026-03-01"}, follow=True)
    assert "身份证号码无效" in response.content.decode()
    assert Occupancy.objects.filter(unit=unit).count() == 1


def test_a_collector_marks_a_dead_number_in_the_territory(client, bob_territory, estate):
    client.force_login(bob_territory)
    unit = estate["units"][0]
    contact = ContactPoint.objects.get(party__occupancies__unit=unit)
    response = client.post(f"/estate/contacts/{contact.pk}/validity/", {"validity": "empty",
                                                                       "next": f"/estate/units/{unit.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/estate/units/{unit.pk}/"
    contact.refresh_from_db()
    assert contact.validity == "empty" and contact.last_verified is not None
    event = AuditEvent.objects.get(verb="contact.validity")
    assert event.before["validity"] == "unknown" and event.after["validity"] == "empty"


def test_a_collector_cannot_touch_contacts_outside_the_territory(client, bob_territory, estate):
    client.force_login(bob_territory)
    outside = ContactPoint.objects.get(party__occupancies__unit=estate["units"][14])
    assert client.post(f"/estate/contacts/{outside.pk}/validity/", {"validity": "empty"}).status_code == 404
    outside.refresh_from_db()
    assert outside.validity == "unknown"


def test_a_collector_adds_a_new_number_but_cannot_transfer_ownership(client, bob_territory, estate):
    client.force_login(bob_territory)
    unit = estate["units"][0]
    owner = unit.occupancies.get().party
    response = client.post(f"/estate/units/{unit.pk}/contacts/", {
        "party": owner.pk, "kind": "mobile", "value": "137 0000 1111", "label": "配偶", "source": "neighbour"})
    assert response.status_code == 302
    assert owner.contacts.filter(value="13700001111", source="neighbour").exists()
    assert client.post(f"/estate/units/{unit.pk}/occupancy/", {"role": "tenant", "name": "x",
                                                              "kind": "person", "start": "2026-01-01"}).status_code == 403


def test_a_malformed_phone_is_refused_with_the_field_named(client, alice, estate):
    client.force_login(alice)
    unit = estate["units"][0]
    owner = unit.occupancies.get().party
    response = client.post(f"/estate/units/{unit.pk}/contacts/", {
        "party": owner.pk, "kind": "mobile", "value": "12345", "source": "owner"}, follow=True)
    assert "内容：电话号码格式不正确" in response.content.decode()
    assert owner.contacts.count() == 1


def test_a_state_change_keeps_history(client, alice, estate):
    client.force_login(alice)
    unit = estate["units"][0]
    client.post(f"/estate/units/{unit.pk}/state/", {"state": "rented", "since": "2026-05-01"})
    unit.refresh_from_db()
    assert unit.state == "rented"
    assert list(unit.state_changes.values_list("state", flat=True)) == ["rented"]
    body = client.get(f"/estate/units/{unit.pk}/").content.decode()
    assert "2026-05-01" in body
