"""The billing policy page: managers set a project's terms; the bounds hold at the page and the service; every
change is audited; new terms apply to the next bill run and never to bills already issued."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from wuye.accounts.models import AuditEvent
from wuye.billing.models import Bill, BillingPolicy
from wuye.billing.policy import billing_policy_save
from wuye.billing.services import bill_generate

pytestmark = pytest.mark.django_db


def _form(policy: BillingPolicy, **changes) -> dict:
    data = {
        "cycle_months": policy.cycle_months, "anchor_month": policy.anchor_month, "due_rule": policy.due_rule,
        "due_day": policy.due_day, "due_days_after_delivery": policy.due_days_after_delivery,
        "late_fee_per_mille": policy.late_fee_per_mille, "late_fee_grace_days": policy.late_fee_grace_days,
        "late_fee_cap_percent": policy.late_fee_cap_percent or "",
        "court_lpr_percent": policy.court_lpr_percent, "court_margin_percent": policy.court_margin_percent,
    }
    if policy.late_fee_not_above_principal:
        data["late_fee_not_above_principal"] = "on"
    if policy.late_fee_charge_at_settlement:
        data["late_fee_charge_at_settlement"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_a_manager_changes_the_due_day_and_only_the_next_run_uses_it(alice, client, billed_estate):
    project = billed_estate["project"]
    bill_generate(actor=alice, project=project, period=dt.date(2026, 1, 1))
    client.force_login(alice)
    url = f"/billing/projects/{project.pk}/policy/"
    page = client.get(url).content.decode()
    assert "收费政策" in page and "已出账，账期不能再改" in page
    policy = BillingPolicy.objects.get(project=project)
    response = client.post(url, _form(policy, due_day=20, cycle_months=1), follow=True)
    assert "收费政策已保存" in response.content.decode()
    policy.refresh_from_db()
    assert policy.due_day == 20
    event = AuditEvent.objects.get(verb="billing.policy.update")
    assert event.actor == alice and event.before == {"due_day": 15} and event.after == {"due_day": 20}
    bill_generate(actor=alice, project=project, period=dt.date(2026, 2, 1))
    assert set(Bill.objects.filter(period_start=dt.date(2026, 1, 1)).values_list("due_date", flat=True)) == {
        dt.date(2026, 1, 15)}
    assert set(Bill.objects.filter(period_start=dt.date(2026, 2, 1)).values_list("due_date", flat=True)) == {
        dt.date(2026, 2, 20)}
    # saving the same values again records nothing
    client.post(url, _form(policy))
    assert AuditEvent.objects.filter(verb="billing.policy.update").count() == 1


@pytest.mark.parametrize("field,value,message", [
    ("due_day", 31, "每期缴费截止日应在 1 到 28 之间"),
    ("late_fee_per_mille", "50", "违约金日费率（‰）应在 0 到 5 之间"),
    ("anchor_month", 13, "起始月份应在 1 到 12 之间"),
    ("late_fee_grace_days", 9999, "宽限天数应在 0 到 365 之间"),
])
def test_out_of_bounds_terms_are_refused_with_the_field_named_and_nothing_changes(alice, client, billed_estate,
                                                                                   field, value, message):
    project = billed_estate["project"]
    policy = BillingPolicy.objects.get(project=project)
    before = {f.name: getattr(policy, f.name) for f in BillingPolicy._meta.concrete_fields}
    client.force_login(alice)
    page = client.post(f"/billing/projects/{project.pk}/policy/", _form(policy, **{field: value})).content.decode()
    assert message in page and "未保存" in page
    policy.refresh_from_db()
    assert {f.name: getattr(policy, f.name) for f in BillingPolicy._meta.concrete_fields} == before
    assert not AuditEvent.objects.filter(verb="billing.policy.update").exists()


def test_junk_input_is_a_form_error_not_a_server_error(alice, client, billed_estate):
    project = billed_estate["project"]
    client.force_login(alice)
    policy = BillingPolicy.objects.get(project=project)
    for junk in ("abc", "", "1e400", "9" * 40, "-1"):
        response = client.post(f"/billing/projects/{project.pk}/policy/", _form(policy, due_day=junk,
                                                                                  late_fee_per_mille=junk))
        assert response.status_code == 200 and "未保存" in response.content.decode()
    policy.refresh_from_db()
    assert policy.due_day == 15 and policy.late_fee_per_mille == Decimal("0.5")


def test_the_cycle_is_locked_once_a_project_has_bills(alice, billed_estate):
    project = billed_estate["project"]
    billing_policy_save(actor=alice, project=project, data={"cycle_months": 3, "anchor_month": 1})
    bill_generate(actor=alice, project=project, period=dt.date(2026, 1, 1))
    with pytest.raises(ValidationError) as exc:
        billing_policy_save(actor=alice, project=project, data={"cycle_months": 1})
    assert "已出账" in str(exc.value.message_dict["cycle_months"])
    assert BillingPolicy.objects.get(project=project).cycle_months == 3


def test_automatic_settlement_fee_needs_a_late_fee_clause(alice, billed_estate):
    project = billed_estate["project"]
    with pytest.raises(ValidationError) as exc:
        billing_policy_save(actor=alice, project=project,
                            data={"late_fee_per_mille": Decimal("0"), "late_fee_charge_at_settlement": True})
    assert "late_fee_charge_at_settlement" in exc.value.message_dict
    assert BillingPolicy.objects.get(project=project).late_fee_per_mille == Decimal("0.5")


def test_finance_reads_the_terms_but_cannot_change_them_and_collectors_cannot_see_them(
        alice, bob, make_user, client, billed_estate):
    from wuye.accounts.choices import Role

    project = billed_estate["project"]
    cashier = make_user("cai", Role.FINANCE)
    cashier.projects.add(project)
    client.force_login(cashier)
    url = f"/billing/projects/{project.pk}/policy/"
    page = client.get(url)
    assert page.status_code == 200 and "disabled" in page.content.decode()
    policy = BillingPolicy.objects.get(project=project)
    assert client.post(url, _form(policy, due_day=20)).status_code == 403
    assert BillingPolicy.objects.get(project=project).due_day == 15
    with pytest.raises(ValidationError):
        billing_policy_save(actor=cashier, project=project, data={"due_day": 20})
    bob.projects.add(project)
    client.force_login(bob)
    assert client.get(url).status_code in (403, 404)


def test_another_projects_manager_gets_a_404(make_user, client, billed_estate):
    from wuye.accounts.choices import Role
    from wuye.estate.models import Project

    other = Project.objects.create(code="T9", name="别处", city="上海")
    manager = make_user("m9", Role.MANAGER)
    manager.projects.add(other)
    client.force_login(manager)
    assert client.get(f"/billing/projects/{billed_estate['project'].pk}/policy/").status_code == 404
