import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from wuye.accounts.models import AuditEvent
from wuye.billing.installments import (
    equal_schedule,
    installment_decide,
    installment_refresh,
    installment_request,
)
from wuye.billing.models import InstallmentPlan
from wuye.billing.selectors import account_summaries
from wuye.billing.services import bill_generate, payment_record


def _today():
    return timezone.localdate()


def test_an_equal_schedule_adds_up_to_the_fen():
    schedule = equal_schedule(53_700, 4, dt.date(2026, 1, 31))
    assert [fen for _, fen in schedule] == [13_425] * 4
    assert [d for d, _ in schedule] == [dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31),
                                        dt.date(2026, 4, 30)]
    assert sum(fen for _, fen in equal_schedule(10_001, 3, dt.date(2026, 1, 1))) == 10_001


def test_a_collectors_request_waits_for_the_manager(bob, alice, owing):
    plan = installment_request(actor=bob, unit=owing, schedule=equal_schedule(53_700, 3, _today()),
                               reason="失业，申请分三个月缴清")
    assert plan.status == "pending"
    assert next(s for s in account_summaries(as_of=dt.date(2026, 6, 1)) if s.unit_id == owing.pk).installment is None
    plan = installment_decide(actor=alice, plan=plan, approve=True, note="同意")
    assert plan.status == "active" and plan.decided_by == alice


def test_the_schedule_must_cover_the_open_amount_exactly(alice, owing):
    with pytest.raises(ValidationError, match="应等于未缴金额"):
        installment_request(actor=alice, unit=owing, schedule=equal_schedule(50_000, 3, _today()), reason="x")
    with pytest.raises(ValidationError, match="递增"):
        installment_request(actor=alice, unit=owing, schedule=[(_today(), 26_850), (_today(), 26_850)], reason="x")
    with pytest.raises(ValidationError, match="不能早于今天"):
        installment_request(actor=alice, unit=owing,
                            schedule=equal_schedule(53_700, 3, _today() - dt.timedelta(days=1)), reason="x")
    assert InstallmentPlan.objects.count() == 0


def test_standing_follows_the_payments(alice, owing):
    start = _today()
    plan = installment_request(actor=alice, unit=owing, schedule=equal_schedule(53_700, 3, start), reason="困难")
    first_due_passed = start + dt.timedelta(days=plan.grace_days + 1)

    def standing(as_of):
        return next(s for s in account_summaries(as_of=as_of, unit_ids=[owing.pk])).installment

    assert standing(start) == "good"
    assert standing(first_due_passed) == "broken"  # nothing paid by the first due date + grace
    payment_record(actor=alice, unit=owing, amount_fen=17_900, method="cash")
    assert standing(first_due_passed) == "good"
    assert installment_refresh(as_of=first_due_passed) == {"broken": 0, "completed": 0, "restored": 0, "reopened": 0}
    later = dt.date.fromordinal(first_due_passed.toordinal() + 31)
    assert installment_refresh(as_of=later)["broken"] == 1
    plan.refresh_from_db()
    assert plan.status == "broken"
    assert AuditEvent.objects.filter(verb="installment.broken", actor_label="installment_refresh").count() == 1
    payment_record(actor=alice, unit=owing, amount_fen=35_800, method="cash")
    assert installment_refresh(as_of=later)["completed"] == 1


def test_one_open_plan_per_unit(alice, owing):
    installment_request(actor=alice, unit=owing, schedule=equal_schedule(53_700, 2, _today()), reason="a")
    with pytest.raises(ValidationError, match="已有"):
        installment_request(actor=alice, unit=owing, schedule=equal_schedule(53_700, 2, _today()), reason="b")


def test_an_installment_is_asked_for_on_the_statement_page_and_approved(client, bob_territory, alice, owing):
    client.force_login(bob_territory)
    first = (_today() + dt.timedelta(days=10)).isoformat()
    client.post(f"/billing/units/{owing.pk}/installments/", {"count": "3", "first_due": first, "reason": "孩子住院"})
    plan = InstallmentPlan.objects.get()
    assert plan.status == "pending" and plan.total_fen == 53_700 and plan.items.count() == 3
    assert "孩子住院" in client.get(f"/billing/units/{owing.pk}/").content.decode()
    client.force_login(alice)
    assert "孩子住院" in client.get("/billing/approvals/", follow=True).content.decode()
    client.post(f"/billing/installments/{plan.pk}/decide/", {"approve": "1"})
    plan.refresh_from_db()
    assert plan.status == "active"
    page = client.get(f"/billing/units/{owing.pk}/").content.decode()
    assert "按期履行" in page


def test_a_bad_installment_form_is_named(client, alice, owing):
    client.force_login(alice)
    response = client.post(f"/billing/units/{owing.pk}/installments/", {"count": "99", "first_due": "x",
                                                                        "reason": ""}, follow=True)
    body = response.content.decode()
    assert "期数" in body and "第一期到期日" in body
    assert InstallmentPlan.objects.count() == 0


# --- decision 207: no late fee on the lines of a plan in good standing ----------------------------------------

def _fee_by_hand(bill, as_of: dt.date, paused_days: int, payments=()) -> int:
    """0.5‰ a day on the open principal from the day after due date + 5 grace days to ``as_of``, less the paused
    days (the principal constant over them), rounded once — worked out here, not by ``latefee.compute``."""
    from decimal import ROUND_HALF_UP, Decimal

    first = bill.due_date + dt.timedelta(days=6)
    days = (as_of - first).days + 1 - paused_days
    return int((Decimal(bill.amount_fen) * Decimal("0.0005") * days).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_a_plan_pauses_the_late_fee_while_it_is_kept_and_not_after_it_breaks(alice, owing, billed_estate):
    """A life: three months owed; a plan approved today pauses the fee on those lines (a line billed after it does
    not pause); the first instalment is paid; the second is missed and the daily job finds the plan broken, which
    ends the pause on that day; the owner catches up, the plan is restored and the lines still open pause again;
    the rest is paid and the plan is completed. At each step the statement's late fee of each line is the fee
    worked out by hand with the paused days left out, and its explanation names them."""
    from wuye.billing.models import Bill, BillFeePause
    from wuye.billing.selectors import statement_for_unit

    project = billed_estate["project"]
    bill_generate(actor=alice, project=project, period=dt.date(2026, 6, 1))
    t0 = _today()
    open_fen = sum(b.amount_fen for b in Bill.objects.filter(unit=owing))
    assert open_fen == 4 * 17_900
    plan = installment_request(actor=alice, unit=owing, schedule=equal_schedule(open_fen, 3, t0), reason="失业")
    assert plan.status == "active"
    bill_generate(actor=alice, project=project, period=dt.date(2026, 7, 1))  # billed after the plan: not in it
    march, april, may, june, july = Bill.objects.filter(unit=owing).order_by("period_start")
    assert list(BillFeePause.objects.order_by("bill_id").values_list("bill_id", "starts_on", "ends_on")) == [
        (b.pk, t0, None) for b in (march, april, may, june)]

    def fees(as_of):
        """The statement's late fee per line — after checking that the owner's bill page, the printed figures and
        a legal claim give the same fee for every line (each reader gets the pauses)."""
        from wuye.billing.figures import demand_figures
        from wuye.estate.selectors import liable_party
        from wuye.legal.statement import debt_of
        from wuye.portal.selectors import owner_bill

        statement = statement_for_unit(owing, as_of=as_of).lines
        lines = {line.bill.pk: line.late_fee for line in statement}
        every = {x.bill.pk: x.late_fee.amount_fen for x in statement if x.late_fee and x.late_fee.amount_fen}
        owing_now = {pk for pk, _ in every.items() if next(x for x in statement if x.bill.pk == pk).open_fen > 0}
        party = liable_party(owing, as_of)
        page = owner_bill(owing, as_of=as_of, party_id=party.pk)
        printed = demand_figures(owing.pk, party.pk, as_of)
        claim = debt_of(party_id=party.pk, project_id=owing.project_id, as_of=as_of, bill_ids=list(every))
        for shown in ({x.bill.pk: x.late_fee.amount_fen for x in page.late_lines},
                      {x.bill_id: x.late_fee_accruing_fen for x in printed.lines if x.late_fee_accruing_fen},
                      {x.bill.pk: x.late_fee_fen for x in claim.lines if x.late_fee_fen}):
            # the same fee for every line a reader shows, and every line still owing a fee is shown
            assert shown == {pk: every[pk] for pk in shown} and owing_now <= set(shown), as_of
        return lines

    look = t0 + dt.timedelta(days=20)
    shown = fees(look)
    paused = (look - t0).days + 1
    assert shown[march.pk].amount_fen == _fee_by_hand(march, look, paused)
    assert shown[july.pk].amount_fen == _fee_by_hand(july, look, 0)
    assert f"自 {t0:%Y-%m-%d} 起分期履行期间不计" in shown[march.pk].explanation
    assert "分期" not in shown[july.pk].explanation

    payment_record(actor=alice, unit=owing, amount_fen=23_867, method="cash")  # the first instalment
    assert installment_refresh(as_of=t0 + dt.timedelta(days=8))["broken"] == 0
    broke = t0 + dt.timedelta(days=50)  # the second instalment (t0 + 1 month) and its grace have passed unpaid
    assert installment_refresh(as_of=broke)["broken"] == 1
    assert set(BillFeePause.objects.values_list("ends_on", flat=True)) == {broke}
    from wuye.billing.ledger import check_ledger

    assert check_ledger().mismatches == 0
    BillFeePause.objects.filter(bill=may).update(ends_on=None)  # a pause left open under the broken plan
    report = check_ledger(rebuild=True)
    assert report.mismatches == 1 and f"paused under plan {plan.pk}, which is broken" in report.problems[0]
    assert BillFeePause.objects.get(bill=may).ends_on == broke and check_ledger().mismatches == 0
    look = broke + dt.timedelta(days=10)
    shown = fees(look)
    april.refresh_from_db()
    assert april.settled_fen == 5_967  # the instalment paid March and part of April (oldest first)
    kept = (broke - t0).days
    assert shown[may.pk].amount_fen == _fee_by_hand(may, look, kept)
    assert f"{t0:%Y-%m-%d} 至 {broke - dt.timedelta(days=1):%Y-%m-%d} 分期履行期间不计" in shown[may.pk].explanation

    payment_record(actor=alice, unit=owing, amount_fen=23_867, method="cash")  # catches up
    back = broke + dt.timedelta(days=3)
    assert installment_refresh(as_of=back)["restored"] == 1
    assert list(BillFeePause.objects.filter(ends_on__isnull=True).order_by("bill_id")
                .values_list("bill_id", "starts_on")) == [(may.pk, back), (june.pk, back)]  # April is paid now
    look = back + dt.timedelta(days=5)
    assert fees(look)[june.pk].amount_fen == _fee_by_hand(june, look, kept + (look - back).days + 1)

    payment_record(actor=alice, unit=owing, amount_fen=23_866, method="cash")
    done = back + dt.timedelta(days=1)
    assert installment_refresh(as_of=done)["completed"] == 1
    assert not BillFeePause.objects.filter(ends_on__isnull=True).exists()
    assert list(BillFeePause.objects.filter(bill=june).order_by("starts_on").values_list("starts_on", "ends_on")) == [
        (t0, broke), (back, done)]


def test_a_rejected_plan_pauses_nothing(alice, bob, owing):
    from wuye.billing.models import BillFeePause

    plan = installment_request(actor=bob, unit=owing, schedule=equal_schedule(53_700, 3, _today()), reason="困难")
    assert not BillFeePause.objects.exists()  # pending: the fee still runs
    installment_decide(actor=alice, plan=plan, approve=False, note="收入证明不足")
    assert not BillFeePause.objects.exists()
