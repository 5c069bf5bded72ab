import pytest
from django.core.exceptions import ValidationError

from wuye.accounts.models import AuditEvent
from wuye.accounts.services import territory_assign
from wuye.estate.selectors import units_visible


def test_it_shows_a_collector_only_the_units_of_their_territory(bob_territory, estate):
    codes = set(units_visible(bob_territory).values_list("code", flat=True))
    assert codes == {u.code for u in estate["units"] if u.building_id == estate["buildings"][0].pk}
    assert len(codes) == 12


def test_a_collector_without_territory_sees_nothing(bob, estate):
    assert not units_visible(bob).exists()


def test_it_limits_by_floor_range(bob, alice, estate):
    territory_assign(actor=alice, user=bob, building=estate["buildings"][1], floor_from=2, floor_to=3)
    floors = set(units_visible(bob).values_list("floor", flat=True))
    assert floors == {2, 3}


def test_staff_of_other_roles_see_the_whole_project(alice, dave, estate):
    assert units_visible(alice).count() == 36
    assert units_visible(dave).count() == 36


def test_a_manager_assigned_to_another_project_sees_none_of_this_one(make_user, estate):
    from wuye.estate.models import Project

    other = Project.objects.create(code="T2", name="别的项目")
    manager = make_user("erin", "manager")
    manager.projects.add(other)
    assert units_visible(manager).count() == 0


def test_it_refuses_overlapping_territories_of_two_collectors(bob, alice, make_user, estate):
    frank = make_user("frank", "collector")
    territory_assign(actor=alice, user=bob, building=estate["buildings"][0], floor_from=1, floor_to=3)
    with pytest.raises(ValidationError, match="重叠"):
        territory_assign(actor=alice, user=frank, building=estate["buildings"][0], floor_from=3, floor_to=6)
    territory_assign(actor=alice, user=frank, building=estate["buildings"][0], floor_from=4, floor_to=6)
    assert AuditEvent.objects.filter(verb="territory.assign").count() == 2


def test_only_collectors_get_territories(alice, dave, estate):
    with pytest.raises(ValidationError):
        territory_assign(actor=alice, user=dave, building=estate["buildings"][0])


def test_the_audit_log_shows_a_project_manager_only_their_projects(client, make_user, alice, estate):
    from wuye.estate.models import Project

    other = Project.objects.create(code="T2", name="别的项目")
    manager = make_user("erin", "manager")
    manager.projects.add(other)
    client.force_login(manager)
    assert client.get("/api/v1/audit-events/").json()["count"] == 0
    assert "occupancy.start" not in client.get("/audit/").content.decode()
    client.force_login(alice)  # company-level: sees the estate's events
    assert client.get("/api/v1/audit-events/").json()["count"] > 0
