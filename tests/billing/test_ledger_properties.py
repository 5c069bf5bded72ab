"""Property-based: random sequences of bill runs, payments, reversals, waivers, voids and prepaid use never
create or lose a fen, never over-allocate a line, and always pass check_ledger."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wuye.billing.ledger import check_ledger
from wuye.billing.models import Adjustment, Allocation, Bill, BillingPolicy, BillRun, Payment
from wuye.billing.selectors import prepaid_balances
from wuye.billing.services import (
    adjustment_request,
    bill_generate,
    bill_run_reverse,
    payment_record,
    payment_reverse,
    seed_default_fee_items,
)

UNITS = 3
op = st.one_of(
    st.tuples(st.just("bill"), st.integers(0, 5)),
    st.tuples(st.just("pay"), st.integers(0, UNITS - 1), st.integers(1, 80_000), st.booleans()),
    st.tuples(st.just("reverse_payment"), st.integers(0, 20)),
    st.tuples(st.just("waive"), st.integers(0, UNITS - 1), st.integers(1, 20_000)),
    st.tuples(st.just("void"), st.integers(0, UNITS - 1), st.one_of(st.none(), st.integers(0, 30_000))),
    st.tuples(st.just("reverse_run"), st.integers(0, 5)),
)


@pytest.fixture
def tiny(db, alice):
    from wuye.estate.models import Building, Party, Project, Unit

    dev = Party.objects.create(kind="company", name="开发商", natural_key="dev:P", is_developer=True)
    project = Project.objects.create(code="P", name="小项目", developer=dev)
    building = Building.objects.create(project=project, code="1", name="1幢")
    units = [Unit.objects.create(project=project, building=building, floor=1, number=f"10{i}", code=f"1-10{i}",
                                 property_type="low_rise", area=Decimal("77.77") + i, state="self")
             for i in range(UNITS)]
    BillingPolicy.objects.create(project=project, cycle_months=1, due_day=10)
    seed_default_fee_items(project, effective_from=dt.date(2020, 1, 1), price_per_m2=Decimal("2.35"))
    return project, units


def _apply(ops, alice, project, units):
    paid_model = 0
    for o in ops:
        try:
            if o[0] == "bill":
                bill_generate(actor=alice, project=project, period=dt.date(2026, 1 + o[1], 1))
            elif o[0] == "pay":
                unit = units[o[1]]
                chosen = None
                if o[3]:
                    chosen = list(Bill.objects.filter(unit=unit, is_void=False).order_by("-period_start")
                                  .exclude(settled_fen=models_F_amount()).values_list("pk", flat=True)[:1]) or None
                payment_record(actor=alice, unit=unit, amount_fen=o[2], method="pos", bill_ids=chosen)
                paid_model += o[2]
            elif o[0] == "reverse_payment":
                candidates = list(Payment.objects.filter(amount_fen__gt=0, reversed_by__isnull=True).order_by("id"))
                if candidates:
                    p = candidates[o[1] % len(candidates)]
                    payment_reverse(actor=alice, payment=p, reason="退票")
                    paid_model -= p.amount_fen
            elif o[0] == "waive":
                bill = Bill.objects.filter(unit=units[o[1]], is_void=False).order_by("period_start").first()
                if bill:
                    adjustment_request(actor=alice, bill=bill, kind="waive_principal", reason="报修未及时处理",
                                       amount_fen=min(o[2], bill.amount_fen - bill.settled_fen) or 1)
            elif o[0] == "void":
                bill = Bill.objects.filter(unit=units[o[1]], is_void=False).order_by("-period_start").first()
                if bill:
                    adjustment_request(actor=alice, bill=bill, kind="void", reason="面积录错",
                                       reissue_amount_fen=o[2])
            elif o[0] == "reverse_run":
                runs = list(BillRun.objects.filter(reversed_at__isnull=True).order_by("id"))
                if runs:
                    bill_run_reverse(actor=alice, run=runs[o[1] % len(runs)], reason="重出")
        except ValidationError:
            pass  # refused operations must leave the ledger as it was; the invariants below check that
    return paid_model


def models_F_amount():
    from django.db.models import F

    return F("amount_fen")


def _total(qs, field="amount_fen"):
    return qs.aggregate(t=Sum(field))["t"] or 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=14))
def test_no_fen_is_created_or_lost(ops, alice, tiny):
    project, units = tiny
    sid = transaction.savepoint()
    try:
        paid_model = _apply(ops, alice, project, units)
        paid = _total(Payment.objects.all())
        assert paid == paid_model
        prepaid = prepaid_balances()
        assert all(v >= 0 for v in prepaid.values())
        on_live = _total(Allocation.objects.filter(bill__is_void=False))
        on_void = _total(Allocation.objects.filter(bill__is_void=True))
        assert on_void == 0, "money on voided lines went back to prepaid"
        assert paid == on_live + sum(prepaid.values())
        for bill in Bill.objects.all():
            allocated = _total(bill.allocations.all())
            adjusted = _total(bill.adjustments.filter(status="approved"))
            assert 0 <= allocated <= bill.amount_fen
            assert bill.settled_fen == allocated + adjusted <= bill.amount_fen
        for unit in units:
            live = Bill.objects.filter(unit=unit, is_void=False)
            open_fen = sum(b.amount_fen - b.settled_fen for b in live)
            billed = _total(live)
            waived = _total(Adjustment.objects.filter(bill__in=live, status="approved"))
            assert open_fen == billed - _total(Allocation.objects.filter(bill__in=live)) - waived
        report = check_ledger()
        assert report.mismatches == 0, report.problems
    finally:
        transaction.savepoint_rollback(sid)
