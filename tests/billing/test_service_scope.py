"""Decision 202: the billing and territory services that change one project's ledger or territories check the
actor's project themselves, not only through the pages' lists. A manager of another project calling them directly
is refused with the project named, and nothing is written."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from wuye.accounts.models import AuditEvent, Territory
from wuye.billing import services
from wuye.billing.models import Adjustment, Bill, BillRun, FeeItem, StatementDelivery

MAY = dt.date(2026, 5, 1)


@pytest.fixture
def elsewhere(make_user, billed_estate):
    """A manager who works in another project only."""
    from wuye.estate.models import Project

    user = make_user("mgr_else", "manager")
    user.projects.set([Project.objects.create(code="T9", name="别处花园", city="杭州",
                                              developer=billed_estate["project"].developer)])
    return user


def _state():
    return (Bill.objects.count(), Adjustment.objects.count(), StatementDelivery.objects.count(),
            AuditEvent.objects.count(), list(BillRun.objects.values_list("reversed_at", flat=True)),
            list(Adjustment.objects.values_list("status", flat=True)),
            list(Territory.objects.values_list("user_id", "building_id", "floor_from", "floor_to")))


def test_billing_services_refuse_a_manager_of_another_project(alice, dave, elsewhere, billed_estate):
    project = billed_estate["project"]
    run = services.bill_generate(actor=alice, project=project, period=MAY)
    bill = Bill.objects.filter(run=run).order_by("pk").first()
    pending = services.adjustment_request(actor=dave, bill=bill, kind="waive_principal", reason="物业维修延误",
                                          amount_fen=100)
    item = FeeItem.objects.create(project=project, code="GTS", name="公摊水费", kind="shared_water", pricing="entered")
    before = _state()
    refused = f"“{project.name}”不在您负责的项目范围内"
    calls = [
        lambda: services.adjustment_request(actor=elsewhere, bill=bill, kind="void", reason="越权"),
        lambda: services.adjustment_decide(actor=elsewhere, adjustment=pending, approve=True),
        lambda: services.late_fee_post(actor=elsewhere, unit=bill.unit, as_of=timezone.localdate(), reason="越权"),
        lambda: services.statement_delivery_record(actor=elsewhere, unit=bill.unit, period_start=MAY, method="email",
                                                   delivered_on=timezone.localdate()),
        lambda: services.bill_run_reverse(actor=elsewhere, run=run, reason="越权"),
        lambda: services.bill_apportion(actor=elsewhere, project=project, fee_item=item, period=MAY, total_fen=100),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied, match=refused):
            call()
    assert _state() == before
    elsewhere.projects.add(project)  # once they work there, the same decision goes through
    services.adjustment_decide(actor=elsewhere, adjustment=pending, approve=True)


def test_a_territory_of_another_project_is_not_moved(alice, elsewhere, bob_territory, estate, make_user):
    from wuye.casework import services as casework

    erin = make_user("erin2", "collector")
    before = _state()
    with pytest.raises(PermissionDenied, match="不能调整该项目的责任区"):
        casework.territory_move(actor=elsewhere, building=estate["buildings"][0], to_user=erin)
    assert _state() == before
    casework.territory_move(actor=alice, building=estate["buildings"][0], to_user=erin)
