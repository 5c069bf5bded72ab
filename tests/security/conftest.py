"""Two projects for the cross-scope tests: the shared test estate (T1) and a second project (T2) with an owner
whose ID number and phone a user scoped to T1 must never reach."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest


@pytest.fixture
def other_project(alice, estate):
    from wuye.estate.choices import ContactKind, ContactSource, OccupantRole, PropertyType
    from wuye.estate.models import Building, Party, Project, Unit
    from wuye.estate.services import contact_add, occupancy_start

    project = Project.objects.create(code="T2", name="别处大厦", city="上海")
    building = Building.objects.create(project=project, code="A", name="A座", floors=3)
    unit = Unit.objects.create(project=project, building=building, floor=1, number="101", code="A-101",
                               property_type=PropertyType.LOW_RISE, area=Decimal("100.00"))
    owner = Party.objects.create(name="李强国", natural_key="id:11010519491231002X", id_number="11010519491231002X")
    occupancy_start(actor=alice, unit=unit, party=owner, role=OccupantRole.OWNER, start=dt.date(2020, 1, 1))
    contact = contact_add(actor=alice, party=owner, kind=ContactKind.MOBILE, value="13900001111",
                          source=ContactSource.HANDOVER, is_primary=True)
    return {"project": project, "building": building, "unit": unit, "owner": owner, "contact": contact}


@pytest.fixture
def kefu_t1(make_user, estate):
    """客服 scoped to the test estate's project only."""
    from wuye.accounts.choices import Role

    user = make_user("kefu1", Role.SERVICE)
    user.projects.add(estate["project"])
    return user


@pytest.fixture
def manager_t1(make_user, estate):
    """经理 scoped to the test estate's project only (may import)."""
    from wuye.accounts.choices import Role

    user = make_user("jingli1", Role.MANAGER, is_staff=True)
    user.projects.add(estate["project"])
    return user
