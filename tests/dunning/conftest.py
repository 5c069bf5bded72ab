import datetime as _dt
from decimal import Decimal

import pytest

from wuye.dunning.models import Action


def actions_of(unit, **filters):
    return list(Action.objects.filter(unit=unit, **filters).select_related("step").order_by("decided_on", "pk"))


def names(unit, **filters):
    return [(a.decided_on, a.step.name) for a in actions_of(unit, **filters)]


CST = __import__("datetime").timezone(__import__("datetime").timedelta(hours=8))


def dispatch_on(day, hour=10):
    """Send (or turn into tasks) what is due on ``day`` at ``hour`` China time."""
    import datetime as dt

    from wuye.dunning.dispatch import dispatch

    return dispatch(now=dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=CST))


def sign_written(actor, unit, on, signer="业主本人", relation="本人"):
    """Close the open notice/registered-letter tasks of ``unit`` as signed for on ``on`` (the receipt stub):
    the demand is then delivered and names the periods it was sent for."""
    from wuye.dunning.models import Task
    from wuye.dunning.services import task_close

    tasks = list(Task.objects.filter(unit=unit, status="open", kind__in=["notice", "registered"]))
    for task in tasks:
        task_close(actor=actor, task=task, note="", signed_by=signer, relation=relation, signed_on=on)
    return tasks


@pytest.fixture
def office(alice):
    """An office building (环球中心 A座) with one company tenant, billed March 2026 (due on the 10th)."""
    from wuye.billing.models import BillingPolicy
    from wuye.billing.services import bill_generate, seed_default_fee_items
    from wuye.estate.choices import OccupantRole, PartyKind, ProjectKind, PropertyType
    from wuye.estate.models import Building, Party, Project, Unit
    from wuye.estate.services import occupancy_start

    project = Project.objects.create(code="OF1", name="环球中心", kind=ProjectKind.OFFICE)
    tower = Building.objects.create(project=project, code="A", name="A座", floors=30)
    unit = Unit.objects.create(project=project, building=tower, floor=12, number="1201", code="A-1201",
                               property_type=PropertyType.OFFICE, area=Decimal("320.00"), state="rented")
    tenant = Party.objects.create(kind=PartyKind.COMPANY, name="某某科技有限公司", natural_key="co:1")
    occupancy_start(actor=alice, unit=unit, party=tenant, role=OccupantRole.OWNER, start=_dt.date(2024, 1, 1))
    BillingPolicy.objects.create(project=project, cycle_months=1, due_day=10, late_fee_per_mille=Decimal("1"))
    seed_default_fee_items(project, effective_from=_dt.date(2024, 1, 1), price_per_m2=Decimal("8.50"))
    bill_generate(actor=alice, project=project, period=_dt.date(2026, 3, 1))
    return unit
