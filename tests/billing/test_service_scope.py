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


def _ledger_and_records():
    from wuye.banking.models import Mandate
    from wuye.billing.models import Payment
    from wuye.dunning.models import Episode, Hold, Task
    from wuye.estate.models import Occupancy, Unit, UnitStateChange

    return (Bill.objects.count(), list(Payment.objects.order_by("pk").values_list("pk", "amount_fen")),
            list(Hold.objects.order_by("pk").values_list("pk", "released_on")),
            list(Task.objects.order_by("pk").values_list("pk", "status")),
            list(Episode.objects.order_by("pk").values_list("pk", "account_class")),
            list(Occupancy.objects.order_by("pk").values_list("pk", "end")), UnitStateChange.objects.count(),
            list(Unit.objects.order_by("pk").values_list("state", flat=True)),
            list(Mandate.objects.order_by("pk").values_list("pk", "status")), AuditEvent.objects.count())


def test_money_holds_tasks_occupancy_and_bank_services_check_the_project_too(admin_user, alice, make_user,
                                                                            arrears_estate):
    """The doors the review listed as relying on their views alone: payments and reversals, bill runs, holds,
    tasks, the account class, unit state, occupancy and the bank's mandates and statement lines. A finance
    clerk of another project calling them directly is refused, the project named, and nothing changes; the same
    clerk once assigned to the project gets through (the check is the project, not the role)."""
    from wuye.banking import services as banking
    from wuye.banking.models import Mandate
    from wuye.dunning import services as dunning
    from wuye.dunning.models import Episode, Task
    from wuye.estate import services as estate
    from wuye.estate.models import Party, Project

    project = arrears_estate["project"]
    unit = arrears_estate["units"][0]
    other = Project.objects.create(code="T8", name="别处家园", city="杭州", developer=project.developer)
    fiona = make_user("fiona_else", "finance")
    fiona.projects.set([other])
    paid = services.payment_record(actor=alice, unit=unit, amount_fen=100, method="cash", payer_name="业主001")
    hold = dunning.hold_place(actor=alice, unit=unit, kind="manual", reason="业主出差",
                              until=timezone.localdate() + dt.timedelta(days=30))
    task = Task.objects.create(project=project, unit=unit, kind="call", title="电话提醒", assignee_role="collector",
                               due_on=timezone.localdate())
    Episode.objects.create(project=project, unit=unit, opened_on=dt.date(2026, 2, 1), first_due=dt.date(2026, 1, 15))
    occupancy = unit.occupancies.get(end__isnull=True)
    mandate = banking.mandate_create(actor=alice, unit=unit, payer_name="业主001", bank="工商银行",
                                     account_no="6222000011112222", signed_on=dt.date(2026, 1, 10))
    account = banking.bank_account_save(actor=alice, project=project, name="测试花园收款户", bank="工商银行",
                                        account_no="1202000011112222", layout="icbc_csv")
    newcomer = Party.objects.create(name="新业主", natural_key="t:new")
    before = _ledger_and_records()
    refused = f"“{project.name}”不在您负责的项目范围内"
    calls = {
        "payment_record": lambda: services.payment_record(actor=fiona, unit=unit, amount_fen=100, method="cash"),
        "payment_reverse": lambda: services.payment_reverse(actor=fiona, payment=paid, reason="越权"),
        "bill_generate": lambda: services.bill_generate(actor=fiona, project=project, period=dt.date(2026, 8, 1)),
        "hold_place": lambda: dunning.hold_place(actor=fiona, unit=unit, kind="dispute", reason="越权"),
        "hold_release": lambda: dunning.hold_release(actor=fiona, hold=hold, note="越权"),
        "task_close": lambda: dunning.task_close(actor=fiona, task=task, note="越权"),
        "account_class_set": lambda: dunning.account_class_set(actor=fiona, unit=unit, account_class="refusing",
                                                               reason="越权"),
        "unit_set_state": lambda: estate.unit_set_state(actor=fiona, unit=unit, state="vacant",
                                                        since=dt.date(2026, 8, 1)),
        "occupancy_start": lambda: estate.occupancy_start(actor=fiona, unit=unit, party=newcomer, role="owner",
                                                          start=dt.date(2026, 8, 1)),
        "occupancy_end": lambda: estate.occupancy_end(actor=fiona, occupancy=occupancy, end=dt.date(2026, 8, 1)),
        "mandate_create": lambda: banking.mandate_create(actor=fiona, unit=arrears_estate["units"][1],
                                                         payer_name="业主002", bank="工商银行",
                                                         account_no="6222000011113333", signed_on=dt.date(2026, 1, 1)),
        "mandate_revoke": lambda: banking.mandate_revoke(actor=fiona, mandate=mandate, reason="越权"),
        "debit_batch_create": lambda: banking.debit_batch_create(actor=fiona, project=project,
                                                                 as_of=timezone.localdate()),
        "statement_submit": lambda: banking.statement_submit(actor=fiona, account=account, filename="a.csv",
                                                             raw=b"x"),
        "bank_account_save": lambda: banking.bank_account_save(actor=fiona, project=project, name="越权户",
                                                               bank="工商银行", account_no="1202000099990000",
                                                               layout="icbc_csv"),
    }
    for name, call in calls.items():
        with pytest.raises(PermissionDenied, match=refused):
            call()
        assert _ledger_and_records() == before, name
    fiona.projects.add(project)
    services.payment_reverse(actor=fiona, payment=paid, reason="银行退票")
    banking.mandate_revoke(actor=fiona, mandate=mandate, reason="业主终止")
    assert Mandate.objects.get().status == Mandate.Status.REVOKED
    # staff assigned to no project work company-wide; a superuser everywhere
    fiona.projects.clear()
    services.payment_record(actor=fiona, unit=unit, amount_fen=100, method="cash")
    dunning.hold_release(actor=admin_user, hold=hold, note="到期")


def test_a_collector_is_held_to_the_projects_of_their_territories(bob_territory, arrears_estate, make_user):
    from wuye.dunning import services as dunning
    from wuye.estate.models import Building, Project, Unit

    other = Project.objects.create(code="T7", name="远方小区", city="杭州", developer=arrears_estate["project"].developer)
    building = Building.objects.create(project=other, code="1", name="1幢", floors=3)
    far = Unit.objects.create(project=other, building=building, floor=1, number="101", code="1-101",
                              property_type="low_rise", area="90.00")
    with pytest.raises(PermissionDenied, match="“远方小区”不在您负责的项目范围内"):
        dunning.hold_place(actor=bob_territory, unit=far, kind="dispute", reason="越权")
    mine = arrears_estate["units"][0]
    dunning.hold_place(actor=bob_territory, unit=mine, kind="dispute", reason="业主对面积有异议")


def test_a_partys_contacts_are_changed_only_by_staff_who_see_one_of_its_units(alice, make_user, estate):
    """contact_add and contact_set_validity trusted their pages: a manager of another project could add a phone
    to, or mark dead the number of, an owner they cannot see. A party linked to none of the actor's units is
    refused by name; one linked to no unit yet (just created by an import) and company-wide staff pass."""
    from wuye.estate import services as parties
    from wuye.estate.models import ContactPoint, Party, Project

    owner = estate["units"][0].occupancies.get().party
    phone = owner.contacts.get()
    other = Project.objects.create(code="T6", name="他处花园", city="杭州", developer=estate["project"].developer)
    stranger = make_user("mgr_t6", "manager")
    stranger.projects.set([other])
    before = list(ContactPoint.objects.order_by("pk").values_list("pk", "value", "validity"))
    with pytest.raises(PermissionDenied, match=f"“{owner.name}”不在您负责的房屋范围内"):
        parties.contact_add(actor=stranger, party=owner, kind="mobile", value="13900000000", source="owner")
    with pytest.raises(PermissionDenied, match="不能修改其联系方式的状态"):
        parties.contact_set_validity(actor=stranger, contact=phone, validity="empty",
                                    verified_on=timezone.localdate())
    assert list(ContactPoint.objects.order_by("pk").values_list("pk", "value", "validity")) == before
    fresh = Party.objects.create(name="新登记业主", natural_key="t:fresh")
    parties.contact_add(actor=stranger, party=fresh, kind="mobile", value="13900000001", source="owner")
    stranger.projects.add(estate["project"])
    parties.contact_set_validity(actor=stranger, contact=phone, validity="empty", verified_on=timezone.localdate())
    parties.contact_add(actor=alice, party=owner, kind="mobile", value="13900000002", source="owner")
