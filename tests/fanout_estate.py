"""A small estate of several projects in arrears, built through the real services (for the distributed runs)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal


def project_in_arrears(actor, code: str, *, buildings: int = 2, floors: int = 3, months=range(1, 8),
                       paid_every: int = 4):
    """A 小区 ``code`` with ``buildings`` × ``floors`` × 2 owned units, billed monthly for ``months`` of 2026
    (due on the 15th, late fee after 5 days); every ``paid_every``-th unit paid its first three months."""
    from wuye.billing.models import BillingPolicy
    from wuye.billing.services import bill_generate, payment_record, seed_default_fee_items
    from wuye.estate.choices import ContactKind, ContactSource, OccupantRole, PartyKind, PropertyType
    from wuye.estate.models import Building, Party, Project, Unit
    from wuye.estate.services import contact_add, occupancy_start

    dev = Party.objects.create(kind=PartyKind.COMPANY, name=f"{code}置业", natural_key=f"dev:{code}", is_developer=True)
    project = Project.objects.create(code=code, name=f"{code}花园", city="杭州", developer=dev)
    units = []
    for b in range(1, buildings + 1):
        building = Building.objects.create(project=project, code=str(b), name=f"{b}幢", floors=floors)
        for floor in range(1, floors + 1):
            for k in (1, 2):
                number = f"{floor}0{k}"
                unit = Unit.objects.create(project=project, building=building, floor=floor, number=number,
                                           code=f"{b}-{number}", property_type=PropertyType.LOW_RISE,
                                           area=Decimal("80.25") + 7 * k + floor, state="self")
                units.append(unit)
                owner = Party.objects.create(name=f"{code}业主{len(units):03d}", natural_key=f"{code}:{len(units)}")
                occupancy_start(actor=actor, unit=unit, party=owner, role=OccupantRole.OWNER,
                                start=dt.date(2020, 1, 1))
                contact_add(actor=actor, party=owner, kind=ContactKind.MOBILE,
                            value=f"139{sum(map(ord, code)) % 100:02d}{len(units):06d}", source=ContactSource.HANDOVER,
                            is_primary=True)
    BillingPolicy.objects.create(project=project, cycle_months=1, due_day=15, late_fee_per_mille=Decimal("0.5"),
                                 late_fee_grace_days=5)
    seed_default_fee_items(project, effective_from=dt.date(2020, 1, 1), price_per_m2=Decimal("2.00"))
    for month in months:
        bill_generate(actor=actor, project=project, period=dt.date(2026, month, 1))
    for n, unit in enumerate(units):
        if n % paid_every == 0:
            from wuye.billing.models import Bill

            owed = sum(Bill.objects.filter(unit=unit, period_start__lt=dt.date(2026, 4, 1))
                       .values_list("amount_fen", flat=True))
            payment_record(actor=actor, unit=unit, amount_fen=owed, method="cash",
                           paid_at=dt.datetime(2026, 4, 10, 10, tzinfo=dt.UTC))
    return project
