"""Territory assignment from the manager's board: buildings and floors move between collectors with their open
tasks; everything audited; a collector cannot use the board."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from wuye.accounts.models import AuditEvent, Territory
from wuye.casework import services
from wuye.casework.selectors import territory_board, worklist
from wuye.dunning.dispatch import dispatch
from wuye.dunning.models import Task

from .conftest import D, run


def ranges(user):
    return sorted(((t.building.code, t.floor_from, t.floor_to) for t in Territory.objects.filter(user=user)
                   .select_related("building")), key=lambda r: (r[0], -1 if r[1] is None else r[1]))


@pytest.fixture
def tasks_for_bob(arrears_estate, bob_territory, outbox):
    run(D(2026, 1, 16), D(2026, 1, 19))
    dispatch(now=dt.datetime(2026, 1, 19, 10, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert Task.objects.filter(assigned_to=bob_territory, status="open").count() == 12
    return arrears_estate


def test_a_floor_moves_with_its_open_tasks_and_the_rest_of_the_building_stays(tasks_for_bob, bob_territory, alice,
                                                                              erin):
    b1 = tasks_for_bob["buildings"][0]
    moved = services.territory_move(actor=alice, building=b1, to_user=erin, floor=3)
    assert moved == 2  # two units on the third floor
    assert ranges(bob_territory) == [("1", None, 2), ("1", 4, None)]
    assert ranges(erin) == [("1", 3, 3)]
    assert Task.objects.filter(assigned_to=erin, status="open", unit__floor=3).count() == 2
    assert Task.objects.filter(assigned_to=bob_territory, status="open").count() == 10
    # the worklists follow
    assert {r.floor for r in worklist(user=erin, day=D(2026, 1, 20)).rows} == {3}
    assert 3 not in {r.floor for r in worklist(user=bob_territory, day=D(2026, 1, 20)).rows}
    # the next floor joins erin's range instead of making a second one
    services.territory_move(actor=alice, building=b1, to_user=erin, floor=4)
    assert ranges(erin) == [("1", 3, 4)] and ranges(bob_territory) == [("1", None, 2), ("1", 5, None)]
    # the whole building to erin: bob keeps nothing of it, his remaining tasks there go too
    assert services.territory_move(actor=alice, building=b1, to_user=erin) == 8
    assert ranges(erin) == [("1", None, None)] and ranges(bob_territory) == []
    assert services.territory_move(actor=alice, building=b1, to_user=erin) == 0  # already hers
    verbs = list(AuditEvent.objects.filter(verb__in=["casework.territory_move", "territory.assign",
                                                     "territory.remove", "dunning.tasks_reassign"])
                 .values_list("verb", flat=True))
    assert verbs.count("casework.territory_move") == 3 and "dunning.tasks_reassign" in verbs
    event = AuditEvent.objects.filter(verb="casework.territory_move").order_by("pk").first()
    assert event.actor == alice and event.after == {"to": erin.pk, "floor": 3, "tasks": 2}
    assert event.before == {"territories": [{"user": bob_territory.pk, "from": None, "to": None}]}
    # the handover names the tasks and units that changed hands
    handover = AuditEvent.objects.filter(verb="dunning.tasks_reassign").order_by("pk").first()
    third_floor = set(Task.objects.filter(unit__building=b1, unit__floor=3).values_list("unit_id", flat=True))
    assert set(handover.after["units"]) == third_floor and len(handover.after["tasks"]) == 2
    assert handover.project_id == b1.project_id


def test_a_building_can_be_taken_back_and_bad_moves_are_refused(tasks_for_bob, bob_territory, alice, erin, dave):
    b1, b2 = tasks_for_bob["buildings"][:2]
    with pytest.raises(PermissionDenied):
        services.territory_move(actor=bob_territory, building=b2, to_user=bob_territory)
    with pytest.raises(ValidationError) as err:
        services.territory_move(actor=alice, building=b1, to_user=dave)  # customer service, not a collector
    assert "to_user" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.territory_move(actor=alice, building=b1, to_user=erin, floor=40)
    assert "40 层" in err.value.message_dict["floor"][0]
    assert ranges(bob_territory) == [("1", None, None)]  # nothing half-done
    services.territory_move(actor=alice, building=b1, to_user=None, floor=6)
    assert ranges(bob_territory) == [("1", None, 5)]
    assert Task.objects.filter(assigned_to__isnull=True, status="open", unit__building=b1).count() == 2


def test_the_board_shows_who_answers_for_each_floor(arrears_estate, bob_territory, alice, erin,
                                                     django_assert_max_num_queries):
    b1 = arrears_estate["buildings"][0]
    services.territory_move(actor=alice, building=b1, to_user=erin, floor=2)
    with django_assert_max_num_queries(4):
        board = territory_board(user=alice, project=arrears_estate["project"])
    card = next(c for c in board.buildings if c.building.pk == b1.pk)
    assert [(f.floor, str(f.collector)) for f in card.floors[:3]] == [(1, "bob"), (2, "erin"), (3, "bob")]
    assert {str(c) for c in card.collectors} == {"bob", "erin"}
    column = next(c for c in board.collectors if c.user == erin)
    assert column.units == 2


def test_the_board_page_assigns_by_form_and_hands_over(arrears_estate, bob_territory, alice, erin, client):
    b2 = arrears_estate["buildings"][1]
    project = arrears_estate["project"]
    client.force_login(bob_territory)
    assert client.get("/casework/desk/territories/").status_code == 403
    client.force_login(alice)
    page = client.get("/casework/desk/territories/").content.decode()
    assert f'data-testid="building-{b2.code}"' in page and 'draggable="true"' in page
    assert "territory_board.js" in page and 'data-testid="assign-form"' in page
    r = client.post("/casework/desk/territories/", {"project": project.pk, "building": b2.pk, "floor": "",
                                                    "to_user": erin.pk}, follow=True)
    assert "已交由 erin 负责" in r.content.decode()
    assert ranges(erin) == [("2", None, None)]
    r = client.post("/casework/desk/territories/", {"project": project.pk, "building": b2.pk, "floor": "三",
                                                    "to_user": erin.pk}, follow=True)
    assert "楼层应为整数" in r.content.decode()
    # someone leaves: everything of bob's goes to erin
    r = client.post("/casework/desk/team/", {"from_user": bob_territory.pk, "to_user": erin.pk,
                                             "next": f"/casework/desk/territories/?project={project.pk}"})
    assert r.status_code == 302 and r.url.startswith("/casework/desk/territories/")
    assert ranges(bob_territory) == [] and ranges(erin) == [("1", None, None), ("2", None, None)]
    r = client.post("/casework/desk/team/", {"from_user": erin.pk, "to_user": bob_territory.pk,
                                             "next": "https://evil.example.com/"})
    assert r.url == "/casework/desk/team/"
