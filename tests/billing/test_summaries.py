"""The account summary (one grouped SQL query + the cached prepaid balance) gives what the former computation
(ORM grouping, prepaid summed from payments and allocations) gave, on random ledgers; the cached balance is
kept by every writer and checked and rebuilt by check_ledger."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.billing.test_ledger_properties import _apply, op, tiny  # noqa: F401 (fixture)
from wuye.billing.ledger import check_ledger
from wuye.billing.models import Bill, Payment, UnitBalance
from wuye.billing.selectors import (
    account_summaries,
    account_summaries_orm,
    prepaid_balances,
    prepaid_from_entries,
)
from wuye.billing.services import bill_generate, late_fee_post, payment_record


def _both(**kwargs):
    """Equal row for row; the rows of units holding only prepaid money come last, in unit order (the former
    computation gave them in the database's grouping order)."""
    new = list(account_summaries(**kwargs))
    old = list(account_summaries_orm(**kwargs))
    owing = [s for s in old if s.project_id is not None]
    assert new == owing + sorted((s for s in old if s.project_id is None), key=lambda s: s.unit_id)
    return new


@settings(max_examples=30, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate], suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=14), day=st.integers(0, 260), only_overdue=st.booleans(),
       prepaid=st.booleans(), some_units=st.booleans())
def test_summaries_equal_the_former_computation(ops, day, only_overdue, prepaid, some_units, alice, tiny):  # noqa: F811
    project, units = tiny
    sid = transaction.savepoint()
    try:
        _apply(ops, alice, project, units)
        if some_units:  # a charged late fee on one unit, a second debtor on another
            try:
                late_fee_post(actor=alice, unit=units[0], as_of=dt.date(2026, 9, 1), reason="结清时一并收取")
            except Exception:  # noqa: BLE001 - nothing to charge is fine
                pass
            from wuye.estate.models import Party

            seller = Party.objects.create(name="卖方", natural_key="t:seller")
            Bill.objects.filter(unit=units[1], period_start__lt=dt.date(2026, 3, 1)).update(party=seller)
        as_of = dt.date(2026, 1, 1) + dt.timedelta(days=day)
        assert prepaid_balances() == prepaid_from_entries()
        _both(as_of=as_of, only_overdue=only_overdue, prepaid=prepaid)
        _both(as_of=as_of, project_id=project.pk, only_overdue=only_overdue, prepaid=prepaid)
        _both(as_of=as_of, unit_ids=[units[0].pk, units[2].pk], only_overdue=only_overdue, prepaid=prepaid)
        assert check_ledger().mismatches == 0
    finally:
        transaction.savepoint_rollback(sid)


def test_the_estate_summary_equals_the_former_one(alice, arrears_estate):
    units = arrears_estate["units"]
    payment_record(actor=alice, unit=units[0], amount_fen=50_000, method="cash")
    payment_record(actor=alice, unit=units[1], amount_fen=5_000_000, method="cash")  # pays all, keeps prepaid
    payment_record(actor=alice, unit=units[2], amount_fen=100, method="cash")
    rows = _both(as_of=dt.date(2026, 7, 20), only_overdue=False)
    by_unit = {s.unit_id: s for s in rows}
    assert by_unit[units[1].pk].prepaid_fen > 0 and by_unit[units[1].pk].overdue_fen == 0
    assert by_unit[units[3].pk].overdue_periods == 7 and by_unit[units[3].pk].oldest_due == dt.date(2026, 1, 15)
    assert _both(as_of=dt.date(2026, 7, 20))


def test_every_writer_moves_the_cached_balance(alice, billed_estate):
    unit = billed_estate["units"][0]
    payment = payment_record(actor=alice, unit=unit, amount_fen=30_000, method="cash")  # before any bill
    assert UnitBalance.objects.get(unit=unit).prepaid_fen == 30_000
    bill_generate(actor=alice, project=unit.project, period=dt.date(2026, 5, 1))  # prepaid pays 179.00
    assert UnitBalance.objects.get(unit=unit).prepaid_fen == 30_000 - 17_900
    from wuye.billing.services import payment_reverse

    payment_reverse(actor=alice, payment=payment, reason="退票")
    assert UnitBalance.objects.get(unit=unit).prepaid_fen == 0
    assert prepaid_balances() == prepaid_from_entries() == {}
    assert check_ledger().mismatches == 0


def test_check_ledger_finds_and_rebuilds_a_wrong_balance(alice, billed_estate):
    units = billed_estate["units"]
    payment_record(actor=alice, unit=units[0], amount_fen=30_000, method="cash")
    payment_record(actor=alice, unit=units[1], amount_fen=10_000, method="cash")
    UnitBalance.objects.filter(unit=units[0]).update(prepaid_fen=1)
    UnitBalance.objects.filter(unit=units[1]).delete()
    UnitBalance.objects.create(unit=units[2], project=units[2].project, prepaid_fen=77)
    report = check_ledger()
    assert report.mismatches == 3
    assert any(f"unit {units[0].pk}: cached prepaid balance 1, entries give 30000" in p for p in report.problems)
    assert check_ledger(rebuild=True).mismatches == 3
    assert check_ledger().mismatches == 0
    assert prepaid_balances() == {units[0].pk: 30_000, units[1].pk: 10_000}


@pytest.mark.django_db
def test_a_raw_insert_moves_the_balance_too(alice, billed_estate):
    """The balance is the database's: a row written outside the services (a COPY, the seed's INSERT … SELECT)
    moves it in the same statement."""
    from django.db import connection
    from django.utils import timezone

    unit = billed_estate["units"][3]
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO billing_payment (project_id, unit_id, payer_name, amount_fen, method, paid_at, "
                       "reference, receipt_no, note, created_at, actor_label) VALUES "
                       "(%s, %s, '', 1234, 'cash', %s, '', '', '', %s, 'test')",
                       [unit.project_id, unit.pk, timezone.now(), timezone.now()])
    assert prepaid_balances([unit.pk]) == {unit.pk: 1234}
    Payment.objects.filter(unit=unit).delete()
    assert prepaid_balances([unit.pk]) == {}


def test_check_ledger_finds_and_rebuilds_wrong_cached_lines(alice, arrears_estate):
    units = arrears_estate["units"]
    payment_record(actor=alice, unit=units[0], amount_fen=20_000, method="cash")
    paid = Bill.objects.filter(unit=units[0]).order_by("period_start").first()
    other = Bill.objects.filter(unit=units[1]).order_by("period_start").first()
    Bill.objects.filter(pk=paid.pk).update(settled_fen=0)
    Bill.objects.filter(pk=other.pk).update(is_void=True)
    report = check_ledger(project_id=arrears_estate["project"].pk)
    assert report.mismatches == 2 and report.bills_checked == 36 * 7 and report.units_checked == 36
    assert report.problems[0] == (f"bill {paid.pk} (unit {units[0].pk}): cached settled 0 void False, "
                                  f"entries give 17900 + 0 void False of 17900")
    assert check_ledger(rebuild=True).mismatches == 2
    assert check_ledger().mismatches == 0
    paid.refresh_from_db()
    other.refresh_from_db()
    assert (paid.settled_fen, other.is_void) == (17_900, False)


@pytest.mark.django_db
def test_deleting_every_entry_in_any_order_leaves_no_balance_behind(alice, billed_estate):
    """A database emptied table by table (a test flush does it in no fixed order) keeps no stray balance:
    a deletion moves a balance that exists and never creates one."""
    from django.db import connection

    from wuye.billing.models import UnitBalance
    from wuye.billing.services import bill_generate, payment_record

    project, units = billed_estate["project"], billed_estate["units"]
    bill_generate(actor=alice, project=project, period=dt.date(2026, 1, 1))
    payment_record(actor=alice, unit=units[0], amount_fen=50_000, method="cash")  # pays the line, rest prepaid
    payment_record(actor=alice, unit=units[1], amount_fen=1_000, method="cash")  # part of the line
    assert UnitBalance.objects.filter(prepaid_fen__gt=0).exists()
    with connection.cursor() as cursor:
        for table in ("billing_unitbalance", "billing_payment", "billing_allocation"):
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
    assert list(UnitBalance.objects.values_list("unit_id", "prepaid_fen")) == []
