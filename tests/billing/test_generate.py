import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from wuye.billing.models import Bill, BillingPolicy, BillRun, Rate
from wuye.billing.selectors import prepaid_balances
from wuye.billing.services import bill_generate, bill_plan, bill_run_reverse, payment_record

MAY = dt.date(2026, 5, 1)


def test_it_bills_every_unit_by_area_with_the_rule_kept(alice, billed_estate):
    run = bill_generate(actor=alice, project=billed_estate["project"], period=MAY)
    assert run.bills_created == 36
    bill = Bill.objects.get(unit=billed_estate["units"][0])
    # 89.50 m² × ¥2.00 × 1 month = ¥179.00
    assert bill.amount_fen == 17_900
    assert bill.due_date == dt.date(2026, 5, 15)
    assert bill.period_end == dt.date(2026, 5, 31)
    assert bill.rule == "89.50m² × ¥2/m²/月 × 1个月"
    assert run.amount_fen == sum(Bill.objects.values_list("amount_fen", flat=True))


def test_running_twice_creates_nothing_new(alice, billed_estate):
    assert bill_generate(actor=alice, project=billed_estate["project"], period=MAY) is not None
    assert bill_generate(actor=alice, project=billed_estate["project"], period=MAY) is None
    assert Bill.objects.count() == 36 and BillRun.objects.count() == 1


def test_vacant_units_use_the_vacant_price(alice, billed_estate):
    unit = billed_estate["units"][1]
    unit.state = "vacant"
    unit.save()
    bill_generate(actor=alice, project=billed_estate["project"], period=MAY)
    bill = Bill.objects.get(unit=unit)
    assert bill.amount_fen == 12_670  # 90.50 × 1.40 = 126.70
    assert "（空置）" in bill.rule


def test_half_yearly_cycles_bill_six_months_in_january_and_july(alice, billed_estate):
    BillingPolicy.objects.filter(project=billed_estate["project"]).update(cycle_months=6, anchor_month=1)
    with pytest.raises(ValidationError, match="不是该项目的出账月份"):
        bill_plan(project=billed_estate["project"], period=MAY)
    bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, 7, 1))
    bill = Bill.objects.get(unit=billed_estate["units"][0])
    assert bill.amount_fen == 107_400 and bill.period_end == dt.date(2026, 12, 31)


def test_a_price_change_applies_from_its_date(alice, billed_estate):
    Rate.objects.create(fee_item=billed_estate["fee_item"], property_type="", price=Decimal("2.50"),
                        effective_from=dt.date(2026, 6, 1))
    bill_generate(actor=alice, project=billed_estate["project"], period=MAY)
    bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, 6, 1))
    amounts = list(Bill.objects.filter(unit=billed_estate["units"][0]).order_by("period_start")
                   .values_list("amount_fen", flat=True))
    assert amounts == [17_900, 22_375]


def test_unsold_units_are_billed_to_the_developer(alice, billed_estate):
    bill_generate(actor=alice, project=billed_estate["project"], period=MAY)
    unsold = billed_estate["units"][-1]
    assert Bill.objects.get(unit=unsold).party == billed_estate["developer"]


def test_a_unit_with_no_owner_and_no_developer_stops_the_run(alice, billed_estate):
    project = billed_estate["project"]
    project.developer = None
    project.save()
    with pytest.raises(ValidationError, match="没有业主"):
        bill_generate(actor=alice, project=project, period=MAY)
    assert Bill.objects.count() == 0 and BillRun.objects.count() == 0


def test_a_run_is_reversed_and_money_paid_on_it_returns_to_prepaid(alice, billed_estate):
    unit = billed_estate["units"][0]
    run = bill_generate(actor=alice, project=billed_estate["project"], period=MAY)
    payment_record(actor=alice, unit=unit, amount_fen=17_900, method="cash")
    assert bill_run_reverse(actor=alice, run=run, reason="单价录错") == 36
    assert not Bill.objects.filter(is_void=False).exists()
    assert prepaid_balances([unit.pk]) == {unit.pk: 17_900}
    # the corrected run is posted and the prepaid money pays it at once
    Rate.objects.filter(fee_item=billed_estate["fee_item"]).update(price=Decimal("1.50"))
    bill_generate(actor=alice, project=billed_estate["project"], period=MAY)
    live = Bill.objects.get(unit=unit, is_void=False)
    assert live.amount_fen == 13_425 and live.settled_fen == 13_425
    assert prepaid_balances([unit.pk]) == {unit.pk: 17_900 - 13_425}


def test_only_managers_reverse_runs(bob, alice, billed_estate):
    run = bill_generate(actor=alice, project=billed_estate["project"], period=MAY)
    with pytest.raises(ValidationError):
        bill_run_reverse(actor=bob, run=run, reason="x")


def test_the_command_prints_one_json_line_and_is_idempotent(billed_estate, capsys):
    call_command("generate_bills", period="2026-05", project="T1")
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["bills_created"] == 36 and first["period"] == "2026-05" and first["amount_fen"] > 0
    call_command("generate_bills", period="2026-05", project="T1")
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert second["bills_created"] == 0 and second["amount_fen"] == 0


def test_projects_are_split_into_balanced_groups_for_parallel_runs():
    from wuye.billing.management.commands.generate_bills import partition

    groups = partition({"A": 4000, "B": 3000, "C": 1000, "D": 1000, "E": 500}, 2)
    assert sorted(map(sorted, groups)) == [["A", "D"], ["B", "C", "E"]]  # 5,000 and 4,500 units
    assert partition({"A": 1}, 4) == [["A"]]
