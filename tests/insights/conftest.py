"""A four-unit ledger small enough to compute by hand (tests/insights/test_kpis.py holds the table).

测试小区: building 1 (units 1-101 on floor 1 and 1-201 on floor 2; collector bob) and building 2 (2-101, 2-102,
no collector). One fee item, ¥100 a month per unit (10000 fen), monthly, due on the 15th; January–March 2026
posted on the 1st of each month. Owners: U1 prepaid, U2 pays on time and late, U3 gets a waiver, U4 pays late.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

CN = dt.timezone(dt.timedelta(hours=8))


def at(day: str, hour: int = 10) -> dt.datetime:
    """``hour`` o'clock in China on ``day`` — or now, for today before that hour (a payment is never in the
    future: a test paying "today" at 10:00 failed between midnight and ten in the morning, China time)."""
    from django.utils import timezone

    return min(dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=CN), timezone.now())


def approve_on(adjustment, day: str) -> None:
    """Adjustments are approved 'now'; the ledger's tests place the approval on a day of 2026."""
    from wuye.billing.models import Adjustment

    Adjustment.objects.filter(pk=adjustment.pk).update(decided_at=at(day, 11))


@pytest.fixture
def small_ledger(db, alice, bob):
    return build_small_ledger(alice, bob)


def build_small_ledger(alice, bob) -> dict:
    from wuye.accounts.services import territory_assign
    from wuye.billing.choices import AdjustmentKind, FeeKind, PaymentMethod, Pricing
    from wuye.billing.models import Bill, BillingPolicy, FeeItem, Rate
    from wuye.billing.services import adjustment_request, bill_generate, payment_record
    from wuye.estate.choices import OccupantRole, PartyKind, PropertyType
    from wuye.estate.models import Building, Party, Project, Unit
    from wuye.estate.services import occupancy_start

    dev = Party.objects.create(kind=PartyKind.COMPANY, name="开发商", natural_key="dev:K1", is_developer=True)
    project = Project.objects.create(code="K1", name="测试小区", developer=dev)
    b1 = Building.objects.create(project=project, code="1", name="1幢", floors=2)
    b2 = Building.objects.create(project=project, code="2", name="2幢", floors=1)
    units = {}
    for name, building, floor, number in (("U1", b1, 1, "101"), ("U2", b1, 2, "201"), ("U3", b2, 1, "101"),
                                          ("U4", b2, 1, "102")):
        unit = Unit.objects.create(project=project, building=building, floor=floor, number=number,
                                   code=f"{building.code}-{number}", property_type=PropertyType.HIGH_RISE,
                                   area=Decimal("80.00"), state="self")
        owner = Party.objects.create(name=f"业主{name}", natural_key=f"k:{name}")
        occupancy_start(actor=alice, unit=unit, party=owner, role=OccupantRole.OWNER, start=dt.date(2020, 1, 1))
        units[name] = unit
    territory_assign(actor=alice, user=bob, building=b1)
    BillingPolicy.objects.create(project=project, cycle_months=1, due_day=15)
    item = FeeItem.objects.create(project=project, code="WY", name="物业服务费", kind=FeeKind.PROPERTY,
                                  pricing=Pricing.FIXED)
    Rate.objects.create(fee_item=item, price=Decimal("100"), effective_from=dt.date(2020, 1, 1))

    def pay(unit, fen, day, ref=""):
        method = PaymentMethod.TRANSFER if ref else PaymentMethod.CASH
        return payment_record(actor=alice, unit=units[unit], amount_fen=fen, method=method, paid_at=at(day),
                              reference=ref)

    def line(unit, month):
        return Bill.objects.get(unit=units[unit], period_start=dt.date(2026, month, 1))

    pay("U1", 25000, "2025-12-20")                       # prepaid before any bill
    bill_generate(actor=alice, project=project, period=dt.date(2026, 1, 1), on=dt.date(2026, 1, 1))
    pay("U2", 10000, "2026-01-10")
    bill_generate(actor=alice, project=project, period=dt.date(2026, 2, 1), on=dt.date(2026, 2, 1))
    waiver = adjustment_request(actor=alice, bill=line("U3", 1), kind=AdjustmentKind.WAIVE_PRINCIPAL,
                                reason="漏水维修期间减免", amount_fen=4000)
    approve_on(waiver, "2026-02-05")
    pay("U3", 6000, "2026-02-10")
    late_feb = pay("U2", 10000, "2026-02-20")             # reversed after February is closed
    bill_generate(actor=alice, project=project, period=dt.date(2026, 3, 1), on=dt.date(2026, 3, 1))
    pay("U4", 15000, "2026-03-03")
    write_off = adjustment_request(actor=alice, bill=line("U3", 3), kind=AdjustmentKind.WRITE_OFF,
                                   reason="和解核销")
    approve_on(write_off, "2026-03-20")
    return {"project": project, "units": units, "b1": b1, "b2": b2, "item": item, "pay": pay,
            "late_feb": late_feb, "line": line}
