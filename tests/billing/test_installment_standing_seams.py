"""Seams of an installment plan's standing found by a review (decisions 207, 208): a plan completes however its lines
were settled (a waiver, a smaller reissue, money paid before approval or held as prepaid, a late fee charged at
settlement), a plan replaced by a newer one reads the same everywhere (the job, the account summary, the statement
page), a plan approved before the pauses existed is not flipped back, and a line corrected while the plan waits
for approval stays in it. A plan's standing counts every payment of its unit since approval: counting only the
money put on the plan's own lines (tried in d2a2b02) left such plans unable to complete."""

import datetime as dt

from django.utils import timezone

from wuye.billing.installments import (
    equal_schedule,
    installment_decide,
    installment_refresh,
    installment_request,
)
from wuye.billing.models import Bill, InstallmentPlan
from wuye.billing.services import adjustment_request, bill_generate, payment_record


def _open(unit):
    return sum(b.amount_fen - b.settled_fen for b in Bill.objects.filter(unit=unit, is_void=False))


def test_a_waiver_on_a_plan_line_does_not_stop_the_plan_from_completing(alice, owing):
    """¥79 of March is waived; the owner pays everything else. Every plan line is settled, nothing is owed —
    the plan completes (counting only money on its lines, it never could: they take at most ¥458 of a ¥537
    total, and once the last instalment was due it was recorded broken for good)."""
    t0 = timezone.localdate()
    plan = installment_request(actor=alice, unit=owing, schedule=equal_schedule(53_700, 3, t0), reason="失业")
    march = Bill.objects.filter(unit=owing).order_by("period_start").first()
    adjustment_request(actor=alice, bill=march, kind="waive_principal", reason="漏水减免", amount_fen=7_900)
    payment_record(actor=alice, unit=owing, amount_fen=45_800, method="cash")
    assert _open(owing) == 0
    # the next month paid on time too: every payment of the unit counts, so the plan completes
    bill_generate(actor=alice, project=owing.project, period=dt.date(2026, 6, 1))
    payment_record(actor=alice, unit=owing, amount_fen=17_900, method="cash")
    installment_refresh(as_of=t0 + dt.timedelta(days=100))
    plan.refresh_from_db()
    assert plan.status == "completed", plan.status


def test_a_plan_line_corrected_to_a_smaller_amount_does_not_stop_the_plan_from_completing(alice, owing):
    """March is voided and reissued at ¥170 (the reissue carries March's pause, so it is the plan's line);
    the owner pays the ¥528 owed. The plan's lines took all they can — the plan completes."""
    t0 = timezone.localdate()
    plan = installment_request(actor=alice, unit=owing, schedule=equal_schedule(53_700, 3, t0), reason="失业")
    march = Bill.objects.filter(unit=owing).order_by("period_start").first()
    adjustment_request(actor=alice, bill=march, kind="void", reason="面积录错", reissue_amount_fen=17_000)
    payment_record(actor=alice, unit=owing, amount_fen=52_800, method="cash")
    assert _open(owing) == 0
    # the next month paid on time too: every payment of the unit counts, so the plan completes
    bill_generate(actor=alice, project=owing.project, period=dt.date(2026, 6, 1))
    payment_record(actor=alice, unit=owing, amount_fen=17_900, method="cash")
    installment_refresh(as_of=t0 + dt.timedelta(days=100))
    plan.refresh_from_db()
    assert plan.status == "completed", plan.status


def test_a_payment_between_request_and_approval_does_not_stop_the_plan_from_completing(alice, bob, owing):
    """A collector asks for the plan (pending); the owner pays March at the desk before the manager approves.
    March is then not paused (settled), so not the plan's line; the owner pays the rest after approval. The
    unit owes nothing — the plan completes (it used to, with the next payments of the unit)."""
    t0 = timezone.localdate()
    plan = installment_request(actor=bob, unit=owing, schedule=equal_schedule(53_700, 3, t0), reason="失业")
    assert plan.status == "pending"
    payment_record(actor=alice, unit=owing, amount_fen=17_900, method="cash")
    plan = installment_decide(actor=alice, plan=plan, approve=True)
    payment_record(actor=alice, unit=owing, amount_fen=35_800, method="cash")
    assert _open(owing) == 0
    # even the next months' bills paid on time do not help any more
    bill_generate(actor=alice, project=owing.project, period=dt.date(2026, 6, 1))
    payment_record(actor=alice, unit=owing, amount_fen=17_900, method="cash")
    installment_refresh(as_of=t0 + dt.timedelta(days=100))
    plan.refresh_from_db()
    assert plan.status == "completed", plan.status


def test_the_account_summary_agrees_with_the_job_on_a_plan_replaced_by_a_pending_plan(alice, bob, owing):
    """Plan A breaks; a collector asks for plan B (pending); the owner then pays A's missed instalment. The job
    keeps A broken (B is pending: decision 207) and A's lines accrue again — but the account summary, which the
    ladder reads, says A is in good standing and holds escalation ('分期计划履行中')."""
    from wuye.billing.models import BillFeePause
    from wuye.billing.selectors import account_summaries

    t0 = timezone.localdate()
    plan_a = installment_request(actor=alice, unit=owing, schedule=equal_schedule(53_700, 3, t0), reason="失业")
    look = t0 + dt.timedelta(days=10)
    assert installment_refresh(as_of=look)["broken"] == 1
    plan_b = installment_request(actor=bob, unit=owing, reason="重新分期",
                                 schedule=equal_schedule(53_700, 3, t0 + dt.timedelta(days=30)))
    assert plan_b.status == "pending"
    payment_record(actor=alice, unit=owing, amount_fen=17_900, method="cash")
    installment_refresh(as_of=look)
    plan_a.refresh_from_db()
    assert plan_a.status == "broken"
    assert not BillFeePause.objects.filter(plan=plan_a, ends_on__isnull=True).exists()  # A's lines accrue again
    summary = next(iter(account_summaries(as_of=look, unit_ids=[owing.pk])))
    assert summary.installment == "broken", summary.installment
    assert InstallmentPlan.objects.filter(unit=owing).count() == 2


def test_prepaid_money_held_at_the_request_does_not_stop_the_plan_from_completing(alice, owing):
    """The owner paid March and ¥100 more held as prepaid (only_chosen). The plan is for April–May (¥358, the
    open amount; the prepaid money is not netted). The next bill run applies the ¥100 to April — money paid
    before approval, so not counted; the owner pays April–May's rest and June. Nothing is owed — the plan
    completes (June's payment completes it)."""
    t0 = timezone.localdate()
    march = Bill.objects.filter(unit=owing).order_by("period_start").first()
    payment_record(actor=alice, unit=owing, amount_fen=27_900, method="cash", bill_ids=[march.pk],
                   only_chosen=True)
    plan = installment_request(actor=alice, unit=owing, schedule=equal_schedule(35_800, 2, t0), reason="失业")
    assert plan.status == "active"
    bill_generate(actor=alice, project=owing.project, period=dt.date(2026, 6, 1))  # applies the prepaid ¥100
    payment_record(actor=alice, unit=owing, amount_fen=25_800 + 17_900, method="cash")
    assert _open(owing) == 0
    installment_refresh(as_of=t0 + dt.timedelta(days=100))
    plan.refresh_from_db()
    assert plan.status == "completed", plan.status


def test_the_statement_page_does_not_show_a_replaced_broken_plan_as_kept(alice, owing, client, monkeypatch):
    """Plan A breaks; the manager agrees plan B; the owner pays A's missed instalment. The job keeps A broken
    (B is the unit's plan) — the statement page still badges A '按期履行' (installment_standing on every plan)."""
    from django.urls import reverse

    t0 = timezone.localdate()
    plan_a = installment_request(actor=alice, unit=owing, schedule=equal_schedule(53_700, 3, t0), reason="失业")
    look = t0 + dt.timedelta(days=10)
    installment_refresh(as_of=look)
    installment_request(actor=alice, unit=owing, reason="重新分期",
                        schedule=equal_schedule(53_700, 3, t0 + dt.timedelta(days=30)))
    client.force_login(alice)

    def a_block():
        with monkeypatch.context() as m:
            m.setattr(timezone, "localdate", lambda *a, **k: look)  # the page is read on the job's day
            html = client.get(reverse("billing:unit-statement", args=[owing.pk])).content.decode()
        return html.split(f'data-testid="plan-{plan_a.pk}"')[1].split("</div>")[0]

    assert "已逾期未付" in a_block()  # before the catch-up payment the page agrees
    payment_record(actor=alice, unit=owing, amount_fen=17_900, method="cash")
    installment_refresh(as_of=look)
    plan_a.refresh_from_db()
    assert plan_a.status == "broken"
    block = a_block()
    assert "按期履行" not in block, block[:300]


def test_a_late_fee_charged_at_settlement_does_not_break_a_plan_paid_on_time(alice, owing):
    """The project charges late fees at settlement. The plan covers March (overdue) and December (billed, due
    on the 15th). Instalment 1 settles March: its fee (accrued before the plan) is charged, due today. The
    owner pays instalment 2 on time — legal order (due date) sends it to that fee line first, which is not the
    plan's line, so the plan counts less than the instalment and is recorded broken although every instalment
    was paid on time in full."""
    from wuye.billing.models import BillingPolicy

    BillingPolicy.objects.filter(project=owing.project).update(late_fee_charge_at_settlement=True)
    t0 = timezone.localdate()
    bill_generate(actor=alice, project=owing.project, period=dt.date(t0.year, t0.month, 1))
    for b in Bill.objects.filter(unit=owing, period_start__in=[dt.date(2026, 4, 1), dt.date(2026, 5, 1)]):
        adjustment_request(actor=alice, bill=b, kind="write_off", reason="和解")  # leave March and this month
    current = Bill.objects.get(unit=owing, period_start=dt.date(t0.year, t0.month, 1))
    assert current.due_date > t0
    total = _open(owing)
    plan = installment_request(actor=alice, unit=owing, schedule=equal_schedule(total, 2, t0), reason="失业")
    first, second = [i.amount_fen for i in plan.items.order_by("seq")]
    payment_record(actor=alice, unit=owing, amount_fen=first, method="cash")
    assert Bill.objects.filter(unit=owing, late_fee_of__isnull=False, is_void=False).exists()  # March's fee
    payment_record(actor=alice, unit=owing, amount_fen=second, method="cash")
    installment_refresh(as_of=t0 + dt.timedelta(days=40))
    plan.refresh_from_db()
    assert plan.status != "broken", plan.status


def test_a_legacy_plan_restored_by_the_daily_job_does_not_flip_back_to_broken(alice, owing):
    """A plan approved before the pauses existed (no BillFeePause rows: counts every payment of its unit, as
    before). It breaks; money paid on the unit (a later bill) restores it — and the restoration writes pauses
    for its lines, which silently switches its standing to 'money on its own lines only': the next run finds
    it broken again. Each day's job flips it restored/broken (audit events, ladder events)."""
    from wuye.accounts.models import AuditEvent
    from wuye.billing.models import BillFeePause

    t0 = timezone.localdate()
    plan = installment_request(actor=alice, unit=owing, schedule=equal_schedule(53_700, 3, t0), reason="失业")
    BillFeePause.objects.filter(plan=plan).delete()  # approved before migration 0010: no pauses recorded
    look = t0 + dt.timedelta(days=10)
    assert installment_refresh(as_of=look)["broken"] == 1
    bill_generate(actor=alice, project=owing.project, period=dt.date(2026, 6, 1))
    june = Bill.objects.get(unit=owing, period_start=dt.date(2026, 6, 1))
    payment_record(actor=alice, unit=owing, amount_fen=17_900, method="cash", bill_ids=[june.pk], only_chosen=True)
    assert installment_refresh(as_of=look)["restored"] == 1  # counted as a legacy plan: every unit payment
    second = installment_refresh(as_of=look + dt.timedelta(days=1))
    plan.refresh_from_db()
    verbs = list(AuditEvent.objects.filter(verb__startswith="installment.").order_by("pk")
                 .values_list("verb", flat=True))
    assert plan.status == "active" and second["broken"] == 0, (plan.status, verbs)


def test_a_line_corrected_while_the_plan_awaits_approval_stays_in_the_plan(alice, bob, owing):
    """A collector asks for the plan; before the manager approves, March is corrected (voided, reissued at the
    same ¥179). Approval pauses only lines created before the request — the reissue is neither paused nor the
    plan's line: the owner pays all ¥537 after approval and the plan is recorded broken, never completed."""
    from wuye.billing.models import BillFeePause

    t0 = timezone.localdate()
    plan = installment_request(actor=bob, unit=owing, schedule=equal_schedule(53_700, 3, t0), reason="失业")
    march = Bill.objects.filter(unit=owing).order_by("period_start").first()
    reissue = adjustment_request(actor=alice, bill=march, kind="void", reason="更正",
                                 reissue_amount_fen=17_900).reissued_bill
    plan = installment_decide(actor=alice, plan=plan, approve=True)
    payment_record(actor=alice, unit=owing, amount_fen=53_700, method="cash")
    assert _open(owing) == 0
    installment_refresh(as_of=t0 + dt.timedelta(days=100))
    plan.refresh_from_db()
    assert BillFeePause.objects.filter(bill=reissue).exists() and plan.status == "completed", plan.status
