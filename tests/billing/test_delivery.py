import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from wuye.accounts.models import AuditEvent
from wuye.billing.models import Bill, BillingPolicy
from wuye.billing.services import bill_generate, statement_delivery_record


@pytest.fixture
def office_bill(alice, billed_estate):
    """An office-style project: due 7 days after the statement is delivered."""
    BillingPolicy.objects.filter(project=billed_estate["project"]).update(due_rule="after_delivery",
                                                                          due_days_after_delivery=7)
    bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, 5, 1))
    return Bill.objects.get(unit=billed_estate["units"][0])


def test_delivery_sets_the_due_date_for_office_terms(alice, office_bill):
    delivered = timezone.localdate()
    statement_delivery_record(actor=alice, unit=office_bill.unit, period_start=office_bill.period_start,
                              method="hand", delivered_on=delivered, signed_by="周敏", signer_relation="指定负责人")
    office_bill.refresh_from_db()
    assert office_bill.due_date == delivered + dt.timedelta(days=7)
    event = AuditEvent.objects.get(verb="statement.delivered")
    assert event.after["due_moved"][0]["bill"] == office_bill.pk
    # a second delivery (e.g. a copy by e-mail) is recorded but moves nothing
    statement_delivery_record(actor=alice, unit=office_bill.unit, period_start=office_bill.period_start,
                              method="email", delivered_on=delivered)
    office_bill.refresh_from_db()
    assert office_bill.due_date == delivered + dt.timedelta(days=7)


def test_a_hand_delivery_needs_a_signer_and_a_real_date(alice, office_bill):
    with pytest.raises(ValidationError) as info:
        statement_delivery_record(actor=alice, unit=office_bill.unit, period_start=office_bill.period_start,
                                  method="hand", delivered_on=timezone.localdate() + dt.timedelta(days=1))
    assert set(info.value.message_dict) == {"signed_by", "delivered_on"}
    with pytest.raises(ValidationError, match="没有该房屋的账单"):
        statement_delivery_record(actor=alice, unit=office_bill.unit, period_start=dt.date(2020, 1, 1),
                                  method="ems", delivered_on=timezone.localdate())


def test_delivery_is_recorded_from_the_statement_page(client, alice, office_bill):
    client.force_login(alice)
    response = client.post(f"/billing/units/{office_bill.unit_id}/deliveries/", {
        "period": office_bill.period_start.isoformat(), "method": "ems",
        "delivered_on": timezone.localdate().isoformat(), "reference": "EA123456789CN"})
    assert response.status_code == 302
    assert "EA123456789CN" in client.get(f"/billing/units/{office_bill.unit_id}/").content.decode()
