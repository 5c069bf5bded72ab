"""Seams of installment plans found by a review of decision 207: a corrected line keeps its pause, a plan that
comes back beside a newer plan of the unit does not stop the daily job."""

import datetime as dt

import pytest
from django.utils import timezone

from wuye.billing.installments import equal_schedule, installment_refresh, installment_request
from wuye.billing.models import Bill, BillFeePause
from wuye.billing.services import adjustment_request, bill_generate, payment_record


def _fees(unit, as_of):
    from wuye.billing.selectors import statement_for_unit

    return {line.bill.pk: line.late_fee for line in statement_for_unit(unit, as_of=as_of).lines}


def test_a_reissued_line_keeps_the_pause_of_the_line_it_replaces(alice, owing):
    """A line of the plan is voided and reissued (a correction of its amount) while the plan is kept: the
    reissue is the same debt with the same due date, it is still in the plan — no late fee should accrue on it
    while the plan is in good standing."""
    t0 = timezone.localdate()
    plan = installment_request(actor=alice, unit=owing, schedule=equal_schedule(53_700, 3, t0), reason="失业")
    assert plan.status == "active"
    march = Bill.objects.filter(unit=owing).order_by("period_start").first()
    adj = adjustment_request(actor=alice, bill=march, kind="void", reason="面积录错，更正", reissue_amount_fen=17_000)
    reissue = adj.reissued_bill
    assert reissue is not None and reissue.due_date == march.due_date
    look = t0 + dt.timedelta(days=20)
    fees = _fees(owing, look)
    april = Bill.objects.filter(unit=owing, is_void=False).order_by("period_start")[1]
    # the untouched April line is paused from t0; the March reissue should be paused the same way
    assert "分期履行期间不计" in fees[april.pk].explanation
    assert BillFeePause.objects.filter(bill=reissue).exists(), "the reissued line has no pause"
    assert "分期履行期间不计" in fees[reissue.pk].explanation, fees[reissue.pk].explanation


def test_a_restored_plan_with_a_newer_plan_on_the_unit_does_not_stop_the_daily_job(alice, owing, billed_estate):
    """Plan A breaks; the manager agrees a new plan B for the unit (allowed: only pending/active plans block a
    request); the owner pays A's missed instalment. The daily job must still run and record the other unit's
    plan Y breaking (ending Y's pause). It used to restore A to active beside the active B, the unique
    constraint installment_one_open_plan_per_unit raises, the job's one transaction rolled back every
    transition: Y stayed 'active' and its lines stayed paused — every day. Now A stays broken beside B."""
    from django.db import IntegrityError, transaction

    other = billed_estate["units"][1]
    t0 = timezone.localdate()
    plan_a = installment_request(actor=alice, unit=owing, schedule=equal_schedule(53_700, 3, t0), reason="失业")
    other_open = sum(b.amount_fen for b in Bill.objects.filter(unit=other))
    plan_y = installment_request(actor=alice, unit=other, reason="困难",
                                 schedule=equal_schedule(other_open, 3, t0 + dt.timedelta(days=12)))
    assert installment_refresh(as_of=t0 + dt.timedelta(days=10))["broken"] == 1  # A: first instalment missed
    plan_b = installment_request(actor=alice, unit=owing, reason="违约后重新分期",
                                 schedule=equal_schedule(53_700, 3, t0 + dt.timedelta(days=30)))
    assert plan_b.status == "active"
    payment_record(actor=alice, unit=owing, amount_fen=17_900, method="cash")  # A's first instalment, late
    later = t0 + dt.timedelta(days=25)  # Y's first instalment (t0+12, grace 7) is now missed
    try:
        with transaction.atomic():
            installment_refresh(as_of=later)
    except IntegrityError as exc:
        plan_y.refresh_from_db()
        open_y = BillFeePause.objects.filter(plan=plan_y, ends_on__isnull=True).count()
        pytest.fail(f"installment_refresh raised {type(exc).__name__}: plan Y stays {plan_y.status!r} with "
                    f"{open_y} pauses open")
    plan_y.refresh_from_db()
    assert plan_y.status == "broken"
    assert not BillFeePause.objects.filter(plan=plan_y, ends_on__isnull=True).exists()
    plan_a.refresh_from_db()
    assert plan_a.status == "broken"  # caught up, but B is the unit's plan now: A does not come back beside it
    assert BillFeePause.objects.filter(plan=plan_b, ends_on__isnull=True).exists()


def test_a_completed_plan_reopened_by_a_reversal_beside_a_newer_plan_does_not_stop_the_daily_job(alice, owing):
    """Plan A is completed; a new plan B is agreed for the next months' bills; the payment that completed A is
    reversed (a bounced transfer). The job records A reopened, as broken (it raised IntegrityError and rolled
    back every plan's transitions)."""
    from django.db import IntegrityError, transaction

    from wuye.billing.services import payment_reverse

    t0 = timezone.localdate()
    plan_a = installment_request(actor=alice, unit=owing, schedule=equal_schedule(53_700, 3, t0), reason="失业")
    paid = payment_record(actor=alice, unit=owing, amount_fen=53_700, method="transfer", reference="T-1")
    assert installment_refresh(as_of=t0)["completed"] == 1
    bill_generate(actor=alice, project=owing.project, period=dt.date(2026, 6, 1))
    bill_generate(actor=alice, project=owing.project, period=dt.date(2026, 7, 1))
    plan_b = installment_request(actor=alice, unit=owing, schedule=equal_schedule(35_800, 2, t0), reason="再分期")
    assert plan_b.status == "active"
    payment_reverse(actor=alice, payment=paid, reason="转账被退回")
    try:
        with transaction.atomic():
            installment_refresh(as_of=t0)
    except IntegrityError as exc:
        pytest.fail(f"installment_refresh raised {type(exc).__name__}: {exc}")
    plan_a.refresh_from_db()
    assert plan_a.status in ("active", "broken")
