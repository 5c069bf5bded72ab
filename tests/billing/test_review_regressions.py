"""Regressions found in review: voids, run reversals and late fees; installment standing and reversals."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from wuye.billing.installments import equal_schedule, installment_refresh, installment_request
from wuye.billing.ledger import check_ledger
from wuye.billing.models import Bill, BillRun, InstallmentPlan, Payment
from wuye.billing.selectors import statement_for_unit
from wuye.billing.services import (
    adjustment_request,
    bill_generate,
    bill_run_reverse,
    late_fee_post,
    payment_record,
    payment_reverse,
)

MARCH = dt.date(2026, 3, 1)


@pytest.fixture
def march(alice, billed_estate):
    bill_generate(actor=alice, project=billed_estate["project"], period=MARCH)
    return Bill.objects.get(unit=billed_estate["units"][0])


def _at(day):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10)))


def test_voiding_a_line_voids_the_late_fee_charged_on_it(alice, march):
    [fee] = late_fee_post(actor=alice, unit=march.unit, as_of=dt.date(2026, 5, 31), reason="x")
    adjustment_request(actor=alice, bill=march, kind="void", reason="面积错", reissue_amount_fen=17_000)
    fee.refresh_from_db()
    assert fee.is_void
    assert check_ledger().mismatches == 0


def test_a_reissued_late_fee_line_stays_a_late_fee_line(alice, march):
    [fee] = late_fee_post(actor=alice, unit=march.unit, as_of=dt.date(2026, 5, 31), reason="x")
    adj = adjustment_request(actor=alice, bill=fee, kind="void", reason="算错", reissue_amount_fen=500)
    assert adj.reissued_bill.late_fee_of_id == march.pk
    line = next(li for li in statement_for_unit(march.unit, as_of=dt.date(2026, 5, 31)).lines if li.bill == march)
    assert line.posted_late_fee_fen == 500  # what is charged now; nothing is charged twice


def test_a_run_reversal_takes_reissues_and_late_fees_with_it(alice, billed_estate, march):
    late_fee_post(actor=alice, unit=march.unit, as_of=dt.date(2026, 5, 31), reason="x")
    other = Bill.objects.get(unit=billed_estate["units"][1])
    adjustment_request(actor=alice, bill=other, kind="void", reason="面积错", reissue_amount_fen=10_000)
    bill_run_reverse(actor=alice, run=BillRun.objects.get(), reason="单价错")
    assert not Bill.objects.filter(is_void=False).exists()
    assert bill_generate(actor=alice, project=billed_estate["project"], period=MARCH).bills_created == 36
    assert check_ledger().mismatches == 0


def test_an_on_time_payer_owes_no_late_fee_after_a_void_and_reissue(alice, march):
    payment_record(actor=alice, unit=march.unit, amount_fen=17_900, method="cash", paid_at=_at(dt.date(2026, 3, 10)))
    adjustment_request(actor=alice, bill=march, kind="void", reason="面积错", reissue_amount_fen=17_000)
    assert statement_for_unit(march.unit, as_of=dt.date(2026, 6, 30)).late_fee_fen == 0


def test_collectors_cannot_reverse_payments(alice, bob, march):
    payment = payment_record(actor=alice, unit=march.unit, amount_fen=100, method="cash")
    with pytest.raises(ValidationError):
        payment_reverse(actor=bob, payment=payment, reason="x")
    assert Payment.objects.count() == 1


def test_reversing_a_payment_made_before_the_plan_does_not_break_it(alice, billed_estate):
    unit = billed_estate["units"][0]
    for month in (3, 4, 5):
        bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, month, 1))
    early = payment_record(actor=alice, unit=unit, amount_fen=17_900, method="cash",
                           paid_at=timezone.now() - dt.timedelta(days=3))
    today = timezone.localdate()
    plan = installment_request(actor=alice, unit=unit, schedule=equal_schedule(35_800, 2, today), reason="困难")
    payment_record(actor=alice, unit=unit, amount_fen=17_900, method="cash")
    payment_reverse(actor=alice, payment=early, reason="退票")
    assert installment_refresh(as_of=today + dt.timedelta(days=plan.grace_days + 1))["broken"] == 0


def test_a_completed_plan_reopens_when_its_payment_is_reversed(alice, billed_estate):
    unit = billed_estate["units"][0]
    bill_generate(actor=alice, project=billed_estate["project"], period=MARCH)
    today = timezone.localdate()
    plan = installment_request(actor=alice, unit=unit, schedule=equal_schedule(17_900, 2, today), reason="x")
    payment = payment_record(actor=alice, unit=unit, amount_fen=17_900, method="cash")
    assert installment_refresh(as_of=today)["completed"] == 1
    payment_reverse(actor=alice, payment=payment, reason="退票")
    assert installment_refresh(as_of=today)["reopened"] == 1
    plan.refresh_from_db()
    assert plan.status == "active"


def test_a_bounced_payment_leaves_the_late_fee_as_if_it_never_arrived(alice, march):
    as_of = dt.date(2026, 5, 31)
    unpaid = statement_for_unit(march.unit, as_of=as_of).late_fee_fen
    payment = payment_record(actor=alice, unit=march.unit, amount_fen=17_900, method="transfer", reference="B9",
                             paid_at=_at(dt.date(2026, 3, 25)))
    assert statement_for_unit(march.unit, as_of=as_of).late_fee_fen < unpaid
    payment_reverse(actor=alice, payment=payment, reason="退票")
    assert statement_for_unit(march.unit, as_of=as_of).late_fee_fen == unpaid


def test_an_on_time_payer_owes_no_late_fee_after_a_run_is_reversed_and_reposted(alice, billed_estate, march):
    payment_record(actor=alice, unit=march.unit, amount_fen=17_900, method="cash", paid_at=_at(dt.date(2026, 3, 10)))
    bill_run_reverse(actor=alice, run=BillRun.objects.get(), reason="单价错")
    bill_generate(actor=alice, project=billed_estate["project"], period=MARCH)
    statement = statement_for_unit(march.unit, as_of=dt.date(2026, 6, 30))
    assert statement.open_fen == 0 and statement.late_fee_fen == 0
    assert check_ledger().mismatches == 0


def test_the_daily_job_reads_completed_plans_only_where_a_counted_payment_was_reversed(alice, billed_estate):
    """Finished plans pile up over the years and the job re-read every one of them (and their units' payments)
    each day. A completed plan can reopen only when a payment it counted is reversed: only such plans are read."""
    from wuye.billing.installments import watched_plans

    today = timezone.localdate()
    kept, bounced = billed_estate["units"][0], billed_estate["units"][1]
    bill_generate(actor=alice, project=billed_estate["project"], period=MARCH)
    plans, payments = {}, {}
    for unit in (kept, bounced):
        fen = Bill.objects.get(unit=unit).amount_fen
        plans[unit.pk] = installment_request(actor=alice, unit=unit, schedule=equal_schedule(fen, 2, today),
                                             reason="x")
        payments[unit.pk] = payment_record(actor=alice, unit=unit, amount_fen=fen, method="cash")
    assert installment_refresh(as_of=today)["completed"] == 2
    assert not watched_plans().exists()
    payment_reverse(actor=alice, payment=payments[bounced.pk], reason="退票")
    assert list(watched_plans().values_list("pk", flat=True)) == [plans[bounced.pk].pk]
    assert installment_refresh(as_of=today)["reopened"] == 1
    assert {p.pk: p.status for p in InstallmentPlan.objects.all()} == {plans[kept.pk].pk: "completed",
                                                                       plans[bounced.pk].pk: "active"}
