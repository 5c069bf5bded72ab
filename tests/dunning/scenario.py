"""A harness for account histories: a small estate, then the daily run and the dispatcher walked day by day
(the way cron runs them), with events (payments, promises, holds, disputes, sales, ladder edits) applied on
the days they happen. ``log`` is the account's whole action history, one line per action."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from wuye.dunning.models import Action

D = dt.date
CST = dt.timezone(dt.timedelta(hours=8))
JAN = dt.date(2026, 1, 1)


def lone_estate(actor, *, units: int = 1, months: int = 6, late_fee_per_mille: str = "0.5",
                start: dt.date = JAN, code: str = "S1"):
    """A project of ``units`` owner-occupied flats (owners with mobiles), ¥2.00/m²/月 on 100 m² = ¥200.00 a
    month, billed monthly from ``start`` for ``months`` months, due on the 15th."""
    from wuye.billing.models import BillingPolicy
    from wuye.billing.services import bill_generate, seed_default_fee_items
    from wuye.estate.choices import ContactKind, ContactSource, OccupantRole, PropertyType
    from wuye.estate.models import Building, Party, Project, Unit
    from wuye.estate.services import contact_add, occupancy_start

    project = Project.objects.create(code=code, name=f"{code}花园", city="杭州")
    building = Building.objects.create(project=project, code="1", name="1幢", floors=6)
    out = []
    for n in range(1, units + 1):
        unit = Unit.objects.create(project=project, building=building, floor=1, number=f"10{n}", code=f"1-10{n}",
                                   property_type=PropertyType.LOW_RISE, area=Decimal("100.00"), state="self")
        owner = Party.objects.create(name=f"{code}业主{n}", natural_key=f"{code}:{n}")
        occupancy_start(actor=actor, unit=unit, party=owner, role=OccupantRole.OWNER, start=D(2020, 1, 1))
        contact_add(actor=actor, party=owner, kind=ContactKind.MOBILE, value=f"1390000{n:04d}",
                    source=ContactSource.HANDOVER, is_primary=True)
        out.append(unit)
    BillingPolicy.objects.create(project=project, cycle_months=1, due_day=15,
                                 late_fee_per_mille=Decimal(late_fee_per_mille), late_fee_grace_days=5)
    seed_default_fee_items(project, effective_from=D(2020, 1, 1), price_per_m2=Decimal("2.00"))
    for k in range(months):
        month = start.month - 1 + k
        bill_generate(actor=actor, project=project, period=D(start.year + month // 12, month % 12 + 1, 1))
    return project, out


def walk_days(start: dt.date, end: dt.date, events: dict | None = None, *, dispatchers: int = 1) -> None:
    """The daily schedule as cron runs it (wuye.tasks): instalment plans 01:30, expired dispute holds 05:50,
    the daily run 06:00, broken promises settled, then the dispatcher at 10:00 (``dispatchers`` times — two
    servers polling the same outbox). ``events`` maps a day to callables applied before that day's jobs,
    ``(day, "mid")`` to ones applied after the run and before the dispatcher (money arriving at 09:00), and
    ``(day, "pm")`` to ones after the dispatcher (a collector working the day's tasks)."""
    from wuye.billing.installments import installment_refresh
    from wuye.casework.services import dispute_holds_expire, promises_broken_settle
    from wuye.dunning.dispatch import dispatch
    from wuye.dunning.engine import dunning_run

    events = events or {}
    day = start
    while day <= end:
        _apply(events.get(day, ()), day, 1)  # a bill run at 01:00
        installment_refresh(as_of=day)
        dispute_holds_expire(as_of=day)
        dunning_run(as_of=day)
        promises_broken_settle(as_of=day)
        _apply(events.get((day, "mid"), ()), day, 9)
        for _ in range(dispatchers):
            dispatch(now=dt.datetime(day.year, day.month, day.day, 10, 0, tzinfo=CST))
        _apply(events.get((day, "pm"), ()), day, 15)
        day += dt.timedelta(days=1)


def _apply(fns, day: dt.date, hour: int) -> None:
    """Run a day's events; the bills they post are dated that day at ``hour``, not at the real clock's time
    (the prepaid run-out reads "money received before the bill was made": a bill stamped with today's real
    date made every payment of the walked history look like prepaid money)."""
    from django.utils import timezone

    from wuye.billing.models import Bill

    if not fns:
        return
    since = timezone.now()
    for fn in fns:
        fn()
    Bill.objects.filter(created_at__gte=since).update(
        created_at=dt.datetime(day.year, day.month, day.day, hour, tzinfo=CST))


def log(unit, *, party=None) -> list[str]:
    """The account's whole action history as lines "MM-DD 步骤 状态[@MM-DD sent]" (sent date in China time)."""
    qs = Action.objects.filter(unit=unit)
    if party is not None:
        qs = qs.filter(party=party)
    out = []
    for a in qs.select_related("step").order_by("decided_on", "step__order", "pk"):
        sent = f"@{a.sent_at.astimezone(CST):%m-%d}" if a.sent_at else ""
        out.append(f"{a.decided_on:%m-%d} {a.step.name} {a.status}{sent}")
    return out
