"""The set-based bill run (one INSERT … SELECT on PostgreSQL) posts exactly the lines the rule written in Python
posts: same amounts, rule text, liable party, due dates, order, discounts, prepaid allocations and audit.

Each case builds an estate, runs ``bill_generate`` with the Python path inside a savepoint, rolls it back, runs
it again with the SQL path and compares every column that matters (not ids, run ids or timestamps)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wuye.accounts.models import AuditEvent
from wuye.billing.models import Adjustment, Allocation, Bill, BillingPolicy, BillRun, FeeItem, Rate
from wuye.billing.prepay import prepay_offer_save, prepay_take
from wuye.billing.services import bill_generate, bill_lines_in_sql, payment_record
from wuye.estate.models import Building, Occupancy, Party, Project, Unit

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="the SQL path is PostgreSQL's; SQLite posts with the Python path")

PERIOD = dt.date(2026, 12, 1)
PAID = dt.datetime(2026, 11, 20, 2, tzinfo=dt.UTC)
BILL_COLUMNS = ("project_id", "unit_id", "party_id", "fee_item_id", "period_start", "period_end", "amount_fen",
                "due_date", "rule", "settled_fen", "is_void", "reissue_of_id", "late_fee_of_id", "charged_with_id",
                "disputed_since")


def _snapshot(path: str, project: Project, period: dt.date, actor, **kwargs) -> dict:
    """Run the bill run with ``path`` inside a savepoint, read what it wrote, roll it back."""
    first_bill = (Bill.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)
    first_alloc = (Allocation.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)
    first_adj = (Adjustment.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)
    first_event = (AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)
    sid = transaction.savepoint()
    try:
        with override_settings(WUYE_BILL_LINES=path):
            assert bill_lines_in_sql() == (path == "sql")
            try:
                run = bill_generate(actor=actor, project=project, period=period, on=PERIOD, **kwargs)
            except ValidationError as exc:
                return {"error": exc.message_dict}
        new_bills = list(Bill.objects.filter(pk__gt=first_bill).order_by("pk"))
        key = {b.pk: (b.unit_id, b.fee_item_id, b.period_start) for b in new_bills}
        return {
            "run": None if run is None else (run.period, run.bills_created, run.amount_fen, run.created_by_id,
                                             run.actor_label),
            "runs": BillRun.objects.count(),
            "bills": [tuple(getattr(b, c) for c in BILL_COLUMNS) for b in new_bills],
            "allocations": sorted((a.payment_id, key.get(a.bill_id, a.bill_id), a.amount_fen, a.applied_on)
                                  for a in Allocation.objects.filter(pk__gt=first_alloc)),
            "adjustments": sorted((key.get(a.bill_id, a.bill_id), a.kind, a.amount_fen, a.status, a.reason,
                                   a.prepay_period_id, a.requested_by_id, a.decided_by_id)
                                  for a in Adjustment.objects.filter(pk__gt=first_adj)),
            "events": [(e.verb, e.actor_id, e.actor_label, e.after) for e in
                       AuditEvent.objects.filter(pk__gt=first_event).order_by("pk")],
        }
    finally:
        transaction.savepoint_rollback(sid)


def _assert_same(project, period, actor, **kwargs) -> dict:
    python = _snapshot("python", project, period, actor, **kwargs)
    sql = _snapshot("sql", project, period, actor, **kwargs)
    assert sql == python
    return python


def test_postgresql_posts_with_sql_by_default():
    assert bill_lines_in_sql() is True


def test_a_varied_estate_gives_the_same_lines_both_ways(alice, billed_estate):
    project, units, item = billed_estate["project"], billed_estate["units"], billed_estate["fee_item"]
    lift = FeeItem.objects.create(project=project, code="DTF", name="电梯费", kind="elevator", pricing="fixed",
                                  sort=2)
    Rate.objects.create(fee_item=lift, property_type="", price=Decimal("35.5"), effective_from=dt.date(2020, 1, 1))
    Rate.objects.create(fee_item=lift, property_type="low_rise", price=Decimal("0"),
                        effective_from=dt.date(2026, 12, 1))  # low-rise units stop paying it: no line
    Rate.objects.create(fee_item=lift, property_type="shop", price=Decimal("80.1250"), vacant_price=Decimal("12"),
                        effective_from=dt.date(2026, 1, 1))
    Rate.objects.create(fee_item=item, property_type="", price=Decimal("2.3456"), vacant_price=Decimal("1.05"),
                        effective_from=dt.date(2026, 12, 1))
    Rate.objects.create(fee_item=item, property_type="", price=Decimal("9.99"),
                        effective_from=dt.date(2027, 1, 1))  # not yet in force
    parking = FeeItem.objects.create(project=project, code="CW", name="车位管理费", pricing="fixed", sort=3,
                                     active=False)
    Rate.objects.create(fee_item=parking, property_type="", price=Decimal("100"), effective_from=dt.date(2020, 1, 1))
    FeeItem.objects.create(project=project, code="GT", name="公摊水费", pricing="entered", sort=4)
    Unit.objects.filter(pk__in=[u.pk for u in units[:6]]).update(property_type="shop")
    Unit.objects.filter(pk__in=[u.pk for u in units[::4]]).update(state="vacant")
    Unit.objects.filter(pk=units[7].pk).update(area=Decimal("1234.05"))
    # sold: before the period (the buyer owes), during the period (the seller owes this period)
    buyer = Party.objects.create(name="新业主", natural_key="t:buyer")
    Occupancy.objects.filter(unit=units[12], role="owner").update(end=dt.date(2026, 11, 10))
    Occupancy.objects.create(unit=units[12], party=buyer, role="owner", start=dt.date(2026, 11, 11))
    Occupancy.objects.filter(unit=units[13], role="owner").update(end=dt.date(2026, 12, 10))
    Occupancy.objects.create(unit=units[13], party=buyer, role="owner", start=dt.date(2026, 12, 11))
    Occupancy.objects.filter(unit=units[14], role="owner").update(end=dt.date(2026, 12, 1))  # ends on day 1
    Occupancy.objects.create(unit=units[14], party=buyer, role="owner", start=dt.date(2026, 12, 1))
    Occupancy.objects.filter(unit=units[15], role="owner").update(end=dt.date(2026, 6, 30))  # back to the developer
    # already billed (skipped) and billed then voided (billed again)
    first = bill_generate(actor=alice, project=project, period=PERIOD)
    Bill.objects.filter(run=first).exclude(unit__in=units[:2]).delete()
    BillRun.objects.filter(pk=first.pk).update(bills_created=2)
    Bill.objects.filter(run=first, unit=units[1]).update(is_void=True, settled_fen=F_amount())
    # prepaid money, and a pay-ahead discount on 物业服务费
    payment_record(actor=alice, unit=units[8], amount_fen=5_000, method="cash", paid_at=PAID)
    payment_record(actor=alice, unit=units[9], amount_fen=900_000, method="cash", paid_at=PAID)
    offer = prepay_offer_save(actor=alice, project=project, name="年缴九五折", fee_item=item, months=12,
                              discount_percent=Decimal("5"), valid_from=dt.date(2026, 11, 1),
                              valid_to=dt.date(2026, 12, 31))
    prepay_take(actor=alice, unit=units[10], offer=offer, amount_fen=_payable(units[10], offer), method="cash",
                paid_at=dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC))

    same = _assert_same(project, PERIOD, alice)
    assert same["run"][1] == len(same["bills"]) > 30
    parties = {b[1]: b[2] for b in same["bills"]}
    assert parties[units[12].pk] == buyer.pk  # sold before the period
    assert parties[units[13].pk] != buyer.pk  # sold during it: the owner on day 1
    assert parties[units[15].pk] == billed_estate["developer"].pk
    assert not [b for b in same["bills"] if b[1] == units[0].pk and b[3] == item.pk]  # already billed
    assert [b for b in same["bills"] if b[1] == units[1].pk and b[3] == item.pk]  # voided → billed again
    assert any("（空置）" in b[8] for b in same["bills"]) and any("/户/月" in b[8] for b in same["bills"])
    assert same["allocations"] and same["adjustments"]
    # a job's run is the job's (no person), both ways
    job = _assert_same(project, PERIOD, None, actor_label="generate_bills")
    assert job["run"][3:] == (None, "generate_bills") and job["events"][0][1:3] == (None, "generate_bills")


def test_nothing_new_gives_no_run_both_ways(alice, billed_estate):
    bill_generate(actor=alice, project=billed_estate["project"], period=PERIOD)
    same = _assert_same(billed_estate["project"], PERIOD, alice)
    assert same["run"] is None and same["bills"] == []


def test_a_unit_nobody_owes_for_is_refused_both_ways(alice, billed_estate):
    project = billed_estate["project"]
    Project.objects.filter(pk=project.pk).update(developer=None)
    project.refresh_from_db()
    same = _assert_same(project, PERIOD, alice)
    assert "没有业主" in same["error"]["project"][0]


def F_amount():
    from django.db.models import F

    return F("amount_fen")


def _payable(unit, offer):
    from wuye.billing.prepay import prepay_quote

    return prepay_quote(unit=unit, offer=offer, on=PERIOD).payable_fen


STATES = ["vacant", "self", "rented", "decorating"]
TYPES = ["low_rise", "shop", "villa"]
unit_st = st.tuples(st.integers(1, 99_999), st.sampled_from(STATES), st.sampled_from(TYPES),
                    st.lists(st.tuples(st.integers(-400, 60), st.one_of(st.none(), st.integers(0, 400))),
                             max_size=3))
rate_st = st.tuples(st.sampled_from(["", *TYPES]), st.integers(0, 2_000_000), st.one_of(st.none(),
                    st.integers(0, 500_000)), st.integers(-900, 90))
item_st = st.tuples(st.sampled_from(["per_area", "fixed"]), st.lists(rate_st, min_size=0, max_size=4),
                    st.integers(0, 5))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(units=st.lists(unit_st, min_size=1, max_size=8), items=st.lists(item_st, min_size=1, max_size=3),
       cycle=st.sampled_from([1, 3, 12]), due_day=st.integers(1, 31), developer=st.booleans(),
       billed=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 2), st.booleans()), max_size=4))
def test_random_estates_give_the_same_lines_both_ways(alice, units, items, cycle, due_day, developer, billed):
    sid = transaction.savepoint()
    try:
        dev = Party.objects.create(kind="company", name="开发商", natural_key="dev:H", is_developer=True)
        project = Project.objects.create(code="H", name="随机小区", developer=dev if developer else None)
        BillingPolicy.objects.create(project=project, cycle_months=cycle, anchor_month=12, due_day=due_day)
        building = Building.objects.create(project=project, code="1", name="1幢")
        made = []
        for i, (area, state, ptype, owners) in enumerate(units):
            unit = Unit.objects.create(project=project, building=building, floor=1, number=f"{i}", code=f"1-{i:02d}",
                                       property_type=ptype, area=Decimal(area) / 100, state=state)
            made.append(unit)
            for k, (start, length) in enumerate(owners):
                begin = PERIOD + dt.timedelta(days=start)
                Occupancy.objects.create(unit=unit, party=Party.objects.create(name=f"业主{i}-{k}",
                                                                               natural_key=f"h:{i}:{k}"),
                                         role="owner", start=begin,
                                         end=None if length is None else begin + dt.timedelta(days=length))
        fee_items = []
        for j, (pricing, rates, sort) in enumerate(items):
            fee_item = FeeItem.objects.create(project=project, code=f"F{j}", name=f"费用{j}", pricing=pricing,
                                              sort=sort)
            fee_items.append(fee_item)
            seen = set()
            for ptype, price, vacant, since in rates:
                day = PERIOD + dt.timedelta(days=since)
                if (ptype, day) in seen:
                    continue
                seen.add((ptype, day))
                Rate.objects.create(fee_item=fee_item, property_type=ptype, price=Decimal(price) / 10_000,
                                    vacant_price=None if vacant is None else Decimal(vacant) / 10_000,
                                    effective_from=day)
        for unit_i, item_i, void in billed:
            if unit_i < len(made) and item_i < len(fee_items):
                Bill.objects.get_or_create(
                    unit=made[unit_i], fee_item=fee_items[item_i], period_start=PERIOD, is_void=False,
                    defaults={"project": project, "party": dev, "period_end": PERIOD, "amount_fen": 1,
                              "due_date": PERIOD, "rule": "旧", "settled_fen": 0})
                if void:
                    Bill.objects.filter(unit=made[unit_i], fee_item=fee_items[item_i]).update(is_void=True,
                                                                                              settled_fen=1)
        _assert_same(project, PERIOD, alice)
    finally:
        transaction.savepoint_rollback(sid)


def test_the_command_is_the_sql_path_and_reruns_create_nothing(alice, billed_estate):
    from django.core.management import call_command

    call_command("generate_bills", "--period", "2026-12")
    assert Bill.objects.filter(period_start=PERIOD).count() == 36
    run = BillRun.objects.get()
    assert (run.created_by, run.actor_label) == (None, "generate_bills")
    assert AuditEvent.objects.filter(verb="billing.run", actor_label="generate_bills").count() == 1
    call_command("generate_bills", "--period", "2026-12")
    assert Bill.objects.filter(period_start=PERIOD).count() == 36 and BillRun.objects.count() == 1
    assert connection.vendor == "postgresql"
