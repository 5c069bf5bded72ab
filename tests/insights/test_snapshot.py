"""The set-based snapshot (insights.snapshot) gives the reference's figures (insights.metrics.rows) and per-unit
rows (insights.metrics.unit_ageing), for closed months, a month in progress and after late entries — on the
small ledger with a collector's territory, prepaid money, a waiver, a write-off, a reversal and a late payment,
and on a larger ledger with units without a floor and territories on some floors only."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection

from wuye.insights.metrics import Window, collectors_by_floor, rows, unit_ageing
from wuye.insights.snapshot import UNITS, Snapshot

pytestmark = pytest.mark.django_db


def _reference_units(window: Window) -> dict:
    found = unit_ageing(window)
    who = collectors_by_floor([(p, b, f) for p, b, f, *_ in found])
    return {(p, b, who[(b, f)], item, unit, bucket): (fen, n, oldest)
            for p, b, f, item, unit, bucket, fen, n, oldest in found}


def _snapshot(window: Window) -> tuple[dict, dict]:
    from wuye.insights.metrics import _date

    with Snapshot(window) as snap:
        figures = snap.rows()
        snap.units()
        with connection.cursor() as cur:
            cur.execute(f"SELECT project_id, building_id, collector_id, fee_item_id, unit_id, bucket, open_fen, lines, "
                        f"oldest_due FROM {UNITS}")
            units = {tuple(r[:6]): (int(r[6]), int(r[7]), _date(r[8])) for r in cur.fetchall()}
    return figures, units


def _compare(window: Window) -> None:
    figures, units = _snapshot(window)
    assert figures == rows(window)
    assert units == _reference_units(window)


WINDOWS = [Window.of(dt.date(2026, m, 1)) for m in (1, 2, 3)] + [Window.of(dt.date(2026, 3, 1), dt.date(2026, 3, 10)),
                                                                  Window.of(dt.date(2026, 12, 1), dt.date(2026, 12, 4))]


def test_the_snapshot_gives_the_reference_figures_on_the_small_ledger(alice, small_ledger):
    from wuye.billing.services import payment_reverse

    for window in WINDOWS:
        _compare(window)
    payment_reverse(actor=alice, payment=small_ledger["late_feb"], reason="银行退票")
    small_ledger["pay"]("U4", 3000, "2026-02-27", ref="BANK-0227")
    small_ledger["pay"]("U1", 70000, "2026-03-25", ref="BANK-0325")  # prepaid beyond what is owed
    for window in WINDOWS:
        _compare(window)


def test_the_snapshot_gives_the_reference_figures_on_a_varied_ledger(alice, bob, make_user):
    """Forty units over two buildings (some without a floor), collectors on some floors, three fee items,
    payments on random days (some reversed, some ahead), waivers and write-offs at random."""
    from wuye.accounts.choices import Role
    from wuye.accounts.models import Territory
    from wuye.billing.choices import AdjustmentKind, FeeKind, PaymentMethod, Pricing
    from wuye.billing.models import Bill, BillingPolicy, FeeItem, Rate
    from wuye.billing.services import (
        adjustment_decide,
        adjustment_request,
        bill_generate,
        payment_record,
        payment_reverse,
    )
    from wuye.estate.choices import OccupantRole, PartyKind, PropertyType
    from wuye.estate.models import Building, Party, Project, Unit
    from wuye.estate.services import occupancy_start

    rng = random.Random(7)
    cn = dt.timezone(dt.timedelta(hours=8))
    dev = Party.objects.create(kind=PartyKind.COMPANY, name="开发商", natural_key="dev:V1", is_developer=True)
    project = Project.objects.create(code="V1", name="随机小区", developer=dev)
    buildings = [Building.objects.create(project=project, code=str(i), name=f"{i}幢", floors=4) for i in (1, 2)]
    units = []
    for i in range(40):
        b = buildings[i % 2]
        floor = None if i % 7 == 0 else 1 + i % 4
        unit = Unit.objects.create(project=project, building=b, floor=floor, number=f"{i:03d}", code=f"{b.code}-{i:03d}",
                                   property_type=PropertyType.HIGH_RISE, area=60 + i, state="self")
        occupancy_start(actor=alice, unit=unit, party=Party.objects.create(name=f"业主{i}", natural_key=f"v:{i}"),
                        role=OccupantRole.OWNER, start=dt.date(2020, 1, 1))
        units.append(unit)
    carl = make_user("carl", Role.COLLECTOR)
    Territory.objects.create(user=bob, project=project, building=buildings[0], floor_from=1, floor_to=2)
    Territory.objects.create(user=carl, project=project, building=buildings[1])
    BillingPolicy.objects.create(project=project, cycle_months=1, due_day=10)
    for code, price in (("WY", "2.5"), ("GT", "30"), ("CW", "150")):
        item = FeeItem.objects.create(project=project, code=code, name=code, kind=FeeKind.PROPERTY,
                                      pricing=Pricing.PER_AREA if code == "WY" else Pricing.FIXED)
        Rate.objects.create(fee_item=item, price=price, effective_from=dt.date(2020, 1, 1))
    payments = []
    for month in range(1, 6):
        bill_generate(actor=alice, project=project, period=dt.date(2026, month, 1), on=dt.date(2026, month, 1))
        for unit in rng.sample(units, 14):
            day = dt.datetime(2026, month, rng.randint(1, 28), 10, tzinfo=cn)
            payments.append(payment_record(actor=alice, unit=unit, amount_fen=rng.choice([5000, 15000, 40000]),
                                           method=PaymentMethod.TRANSFER, paid_at=day,
                                           reference=f"V-{month}-{unit.pk}"))
        for bill in rng.sample(list(Bill.objects.filter(period_start=dt.date(2026, month, 1),
                                                         settled_fen=0, is_void=False)), 2):
            kind = rng.choice([AdjustmentKind.WAIVE_PRINCIPAL, AdjustmentKind.WRITE_OFF])
            adj = adjustment_request(actor=alice, bill=bill, kind=kind, reason="测试",
                                     amount_fen=bill.amount_fen // 2 if kind == AdjustmentKind.WAIVE_PRINCIPAL
                                     else None)
            if adj.status != "approved":
                adjustment_decide(actor=make_user(f"m{bill.pk}", Role.MANAGER), adjustment=adj, approve=True)
    # waivers above were approved now and these reversals happen now: late entries for every month compared
    for p in rng.sample(payments, 4):
        payment_reverse(actor=alice, payment=p, reason="退票")
    for m in (1, 2, 3, 4):
        _compare(Window.of(dt.date(2026, m, 1)))
    _compare(Window.of(dt.date(2026, 5, 1), dt.date(2026, 5, 20)))
