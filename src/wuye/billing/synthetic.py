"""Synthetic billing history for the demo and for tests: fee standards, months of bills and payments.

Every account gets a behaviour drawn from a fixed mix, deterministically from the seed:
- on time (≈55 %): pays each bill within a few days of its due date;
- late (≈20 %): pays, but one to three cycles late, often several cycles at once;
- chronic (≈8 %): paid at first, then stopped some months ago;
- investor (vacant units of investors): pays yearly in one sum, or not at all;
- prepaid (≈5 %): paid a year ahead at the start, tops up when it runs out;
- dispute (≈2 %): stopped paying over a complaint; the open lines are marked disputed;
- hardship (≈2 %): pays part, with a principal waiver approved by a manager;
- developer units: the developer pays every half year.
All money moves through ``wuye.billing.services`` (the same code a cashier uses), attributed to the job
label ``seed``, so the result passes ``wuye check_ledger``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

from django.db import models, transaction
from django.utils import timezone

from wuye.billing.choices import FeeKind, PaymentMethod, Pricing
from wuye.billing.models import Bill, BillDispute, BillingPolicy, FeeItem, Rate
from wuye.billing.services import add_months, bill_generate, cycle_start_months, payment_record
from wuye.estate.choices import OccupancyState, ProjectKind, PropertyType
from wuye.estate.models import Occupancy, Project, Unit

# Price per m² per month (yuan) by property type: residential and office levels of a second-tier city.
PRICES = {
    PropertyType.LOW_RISE: Decimal("1.20"), PropertyType.MID_RISE: Decimal("1.80"),
    PropertyType.HIGH_RISE: Decimal("2.30"), PropertyType.TOWNHOUSE: Decimal("3.50"),
    PropertyType.VILLA: Decimal("4.80"), PropertyType.SHOP: Decimal("5.00"), PropertyType.OFFICE: Decimal("8.50"),
}
PARKING_FEE = Decimal("80")
BEHAVIOURS = [("on_time", 55), ("late", 20), ("chronic", 8), ("prepaid", 5), ("dispute", 2), ("hardship", 2),
              ("forgetful", 8)]


def setup_fee_standards(project: Project, *, since: dt.date) -> None:
    """物业服务费 by property type (vacant units at 70 %), 电梯费 for high-rise, 车位管理费 for parking."""
    office = project.kind == ProjectKind.OFFICE
    BillingPolicy.objects.get_or_create(project=project, defaults={
        "cycle_months": 1 if office else (6 if project.code.endswith("CH") else 3),
        "anchor_month": 1, "due_day": 15 if not office else 10,
        "late_fee_per_mille": Decimal("0.5") if not office else Decimal("1"), "late_fee_grace_days": 10,
        "late_fee_cap_percent": Decimal("30"),
        # office leases in the demo charge the late fee when the principal is settled (residential estates
        # leave it to the manager); see docs/decisions.md
        "late_fee_charge_at_settlement": office})
    service, _ = FeeItem.objects.get_or_create(project=project, code="WYF", defaults={
        "name": "物业服务费", "kind": FeeKind.PROPERTY, "pricing": Pricing.PER_AREA, "sort": 1})
    for ptype, price in PRICES.items():
        Rate.objects.get_or_create(fee_item=service, property_type=ptype, effective_from=since, defaults={
            "price": price, "vacant_price": (price * Decimal("0.7")).quantize(Decimal("0.01"))})
    if not office:
        lift, _ = FeeItem.objects.get_or_create(project=project, code="DTF", defaults={
            "name": "电梯费", "kind": FeeKind.ELEVATOR, "pricing": Pricing.PER_AREA, "sort": 2})
        Rate.objects.get_or_create(fee_item=lift, property_type=PropertyType.HIGH_RISE, effective_from=since,
                                   defaults={"price": Decimal("0.35")})
        parking, _ = FeeItem.objects.get_or_create(project=project, code="CWF", defaults={
            "name": "车位管理费", "kind": FeeKind.PARKING, "pricing": Pricing.FIXED, "sort": 3})
        Rate.objects.get_or_create(fee_item=parking, property_type=PropertyType.PARKING, effective_from=since,
                                   defaults={"price": PARKING_FEE})


def _months(start: dt.date, end: dt.date):
    day = start.replace(day=1)
    while day <= end:
        yield day
        day = add_months(day, 1)


def _at(day: dt.date, rng: random.Random) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(rng.randint(9, 17), rng.randint(0, 59))))


@transaction.atomic
def seed_history(
    *, projects: list[Project], months: int, seed: int, as_of: dt.date | None = None, requester=None, approver=None,
) -> dict:
    """Bill ``months`` months up to ``as_of`` (default today) and simulate how each account pays.

    With a ``requester`` (a collector) and an ``approver`` (a manager), hardship accounts in the requester's
    territory also get principal waivers — some approved, some waiting — and a few late payers ask for
    installment plans, so the manager's approvals page has work to show."""
    rng = random.Random(seed)
    as_of = as_of or timezone.localdate()
    first = add_months(as_of.replace(day=1), -months)
    counts = defaultdict(int)
    for project in projects:
        setup_fee_standards(project, since=first)
        policy = BillingPolicy.objects.get(project=project)
        starts = set(cycle_start_months(policy))
        unit_rows = list(project.units.order_by("id").values_list("id", "state"))
        investors = set(Occupancy.objects.filter(unit__project=project, end__isnull=True, role="owner",
                                                 party__is_investor=True).values_list("unit_id", flat=True))
        owned = set(Occupancy.objects.filter(unit__project=project, end__isnull=True, role="owner")
                    .values_list("unit_id", flat=True))
        behaviour = {}
        for unit_id, state in unit_rows:
            if unit_id not in owned:
                behaviour[unit_id] = "developer"
            elif unit_id in investors or state == OccupancyState.VACANT:
                behaviour[unit_id] = rng.choice(["investor_yearly", "investor_yearly", "investor_never"])
            else:
                behaviour[unit_id] = rng.choices([b for b, _ in BEHAVIOURS], [w for _, w in BEHAVIOURS])[0]
        stop_after = {u: rng.randint(2, max(3, months - 3)) for u, b in behaviour.items() if b == "chronic"}
        units = {u.pk: u for u in project.units.all()}
        for index, month in enumerate(_months(first, as_of)):
            if month.month not in starts:
                continue
            run = bill_generate(actor=None, actor_label="seed", project=project, period=month, on=month)
            counts["bills"] += run.bills_created if run else 0
            if run is None:
                continue
            bills_by_unit = defaultdict(int)
            for unit_id, amount in Bill.objects.filter(run=run).values_list("unit_id", "amount_fen"):
                bills_by_unit[unit_id] += amount
            due = Bill.objects.filter(run=run).values_list("due_date", flat=True).first()
            for unit_id, amount in bills_by_unit.items():
                kind = behaviour[unit_id]
                pay_on, pay_amount = None, 0
                if kind == "on_time":
                    pay_on, pay_amount = due - dt.timedelta(days=rng.randint(0, 20)), amount
                elif kind == "forgetful":
                    pay_on, pay_amount = due + dt.timedelta(days=rng.randint(5, 40)), amount
                elif kind == "late" and rng.randrange(100) < 55:
                    # pays what is open, one to three cycles late
                    pay_on = due + dt.timedelta(days=rng.randint(30, 100))
                    pay_amount = -1
                elif kind == "chronic" and index < stop_after[unit_id]:
                    pay_on, pay_amount = due + dt.timedelta(days=rng.randint(0, 30)), amount
                elif kind == "prepaid" and index == 0:
                    pay_on, pay_amount = due - dt.timedelta(days=10), amount * 13
                elif kind in ("investor_yearly", "developer") and month.month in (1, 7):
                    pay_on, pay_amount = due + dt.timedelta(days=rng.randint(10, 60)), -1
                elif kind == "hardship" and rng.randrange(100) < 50:
                    pay_on, pay_amount = due + dt.timedelta(days=rng.randint(10, 60)), amount // 2
                if pay_on is None or pay_on >= as_of:
                    continue
                if pay_amount == -1:
                    pay_amount = sum(b.amount_fen - b.settled_fen for b in
                                     Bill.objects.filter(unit_id=unit_id, is_void=False, due_date__lte=pay_on))
                if pay_amount <= 0:
                    continue
                method = rng.choice([PaymentMethod.WECHAT, PaymentMethod.WECHAT, PaymentMethod.ALIPAY,
                                     PaymentMethod.CASH, PaymentMethod.POS, PaymentMethod.TRANSFER])
                if method == PaymentMethod.CASH and pay_amount > 5_000_000:
                    method = PaymentMethod.TRANSFER
                payment_record(actor=None, actor_label="seed", unit=units[unit_id], amount_fen=pay_amount,
                               method=method, paid_at=_at(pay_on, rng),
                               reference=f"S{seed}-{project.pk}-{unit_id}-{index}" if method not in (
                                   PaymentMethod.CASH, PaymentMethod.POS) else "")
                counts["payments"] += 1
        if requester is not None and approver is not None:
            _seed_requests(rng, behaviour, requester, approver, as_of, counts)
        disputed = [u for u, b in behaviour.items() if b == "dispute"]
        since = add_months(as_of, -6)
        lines = Bill.objects.filter(unit_id__in=disputed, is_void=False, due_date__gte=since)
        counts["disputed_lines"] += lines.update(disputed_since=since)
        BillDispute.objects.bulk_create([BillDispute(bill_id=pk, starts_on=since)  # the days no 违约金 accrues
                                         for pk in lines.exclude(pk__in=BillDispute.objects.filter(
                                             ends_on__isnull=True).values("bill_id")).values_list("pk", flat=True)],
                                        batch_size=2000)
    return dict(counts)


def _seed_requests(rng: random.Random, behaviour: dict, requester, approver, as_of: dt.date, counts) -> None:
    from wuye.billing.installments import equal_schedule, installment_request
    from wuye.billing.services import adjustment_decide, adjustment_request
    from wuye.estate.selectors import units_visible

    mine = set(units_visible(requester).values_list("pk", flat=True))
    hardship = sorted(u for u, b in behaviour.items() if u in mine and b in ("hardship", "chronic"))
    for n, unit_id in enumerate(hardship[:6]):
        line = (Bill.objects.filter(unit_id=unit_id, is_void=False, settled_fen__lt=models.F("amount_fen"))
                .order_by("due_date", "id").first())
        if line is None:
            continue
        amount = max(1, (line.amount_fen - line.settled_fen) * rng.choice([20, 30, 50]) // 100)
        adj = adjustment_request(actor=requester, bill=line, kind="waive_principal", amount_fen=amount,
                                 reason=rng.choice(["家中有人住院，申请减免部分物业费", "下岗待业，收入困难",
                                                    "楼上漏水数月影响居住，工程已确认"]))
        if n % 2 == 0:
            adjustment_decide(actor=approver, adjustment=adj, approve=True, note="已核实，同意减免")
            counts["waivers_approved"] += 1
        else:
            counts["waivers_pending"] += 1
    if as_of != timezone.localdate():
        return  # installment schedules start from today
    late = [u for u, b in behaviour.items() if u in mine and b in ("late", "forgetful")]
    owing = (Bill.objects.filter(unit_id__in=late, is_void=False, settled_fen__lt=models.F("amount_fen"))
             .values("unit_id").annotate(open=models.Sum(models.F("amount_fen") - models.F("settled_fen")))
             .order_by("unit_id"))
    for row in list(owing)[:3]:
        installment_request(actor=requester, unit=Unit.objects.get(pk=row["unit_id"]), reason="申请分三个月缴清欠费",
                            schedule=equal_schedule(row["open"], 3, as_of + dt.timedelta(days=15)))
        counts["installments_pending"] += 1
