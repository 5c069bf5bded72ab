"""The hourly provisional snapshot recomputes only what changed (decision 177).

A refresh reads the changes written since the last snapshot (``LiveChange``, filled from ``common.changes``)
and the territories, recomputes those buildings and rewrites only the rows that differ. The property test walks
random histories of two projects (payments, reversals, waivers, write-offs, a void and reissue, bill runs, unit
moves, territory edits written without any service, days passing) and after every step compares the stored
snapshot, row for row, with a full recompute of the same moment. The targeted tests pin what is written: nothing
when nothing changed, one project's rows for a payment there, everything when the code's version changed."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wuye.insights.models import (
    MEASURES,
    FigureKind,
    LiveChange,
    LiveSnapshot,
    MonthFigure,
    MonthRollup,
    UnitFigure,
    UnitTotal,
)
from wuye.insights.services import live_refresh

pytestmark = pytest.mark.django_db

CN = dt.timezone(dt.timedelta(hours=8))
MONTH = dt.date(2026, 3, 1)
_codes = itertools.count(1)


def estate(alice, bob, carl, *, code: str) -> dict:
    """Two buildings of six units (floors 1–3, one unit without a floor), two fee items, bob on building 1's
    floors 1–2 and carl on building 2; January and February billed (due the 10th), some of it paid."""
    from wuye.accounts.models import Territory
    from wuye.billing.choices import FeeKind, PaymentMethod, Pricing
    from wuye.billing.models import BillingPolicy, FeeItem, Rate
    from wuye.billing.services import bill_generate, payment_record
    from wuye.estate.choices import OccupantRole, PartyKind, PropertyType
    from wuye.estate.models import Building, Party, Project, Unit
    from wuye.estate.services import occupancy_start

    dev = Party.objects.create(kind=PartyKind.COMPANY, name="开发商", natural_key=f"dev:{code}", is_developer=True)
    project = Project.objects.create(code=code, name=f"小区{code}", developer=dev)
    buildings = [Building.objects.create(project=project, code=str(i), name=f"{i}幢", floors=3) for i in (1, 2)]
    units = []
    for i in range(12):
        b = buildings[i % 2]
        floor = None if i == 5 else 1 + i % 3
        unit = Unit.objects.create(project=project, building=b, floor=floor, number=f"{i:03d}",
                                   code=f"{b.code}-{i:03d}", property_type=PropertyType.HIGH_RISE,
                                   area=Decimal(60 + i), state="self")
        occupancy_start(actor=alice, unit=unit, role=OccupantRole.OWNER, start=dt.date(2020, 1, 1),
                        party=Party.objects.create(name=f"业主{code}{i}", natural_key=f"{code}:{i}"))
        units.append(unit)
    Territory.objects.create(user=bob, project=project, building=buildings[0], floor_from=1, floor_to=2)
    Territory.objects.create(user=carl, project=project, building=buildings[1])
    BillingPolicy.objects.create(project=project, cycle_months=1, due_day=10)
    for item_code, price in (("WY", "2.5"), ("CW", "150")):
        item = FeeItem.objects.create(project=project, code=item_code, name=item_code, kind=FeeKind.PROPERTY,
                                      pricing=Pricing.PER_AREA if item_code == "WY" else Pricing.FIXED)
        Rate.objects.create(fee_item=item, price=price, effective_from=dt.date(2020, 1, 1))
    for month in (1, 2):
        bill_generate(actor=alice, project=project, period=dt.date(2026, month, 1), on=dt.date(2026, month, 1))
        for unit in units[month::3]:
            payment_record(actor=alice, unit=unit, amount_fen=20000, method=PaymentMethod.CASH,
                           paid_at=dt.datetime(2026, month, 8, 10, tzinfo=CN))
    return {"project": project, "buildings": buildings, "units": units}


@pytest.fixture
def carl(make_user):
    from wuye.accounts.choices import Role

    return make_user("carl", Role.COLLECTOR)


@pytest.fixture
def two(alice, bob, carl):
    from wuye.billing.services import bill_generate

    a, b = estate(alice, bob, carl, code="A"), estate(alice, bob, carl, code="B")
    for e in (a, b):
        bill_generate(actor=alice, project=e["project"], period=MONTH, on=MONTH)
    return a, b


# --- what is stored ------------------------------------------------------------------------------------------

def stored(period: dt.date = MONTH) -> dict[str, list]:
    """The provisional snapshot as rows without their ids and stamps (sorted, so two snapshots compare)."""
    def rows(qs, *cols):
        return sorted((tuple(r) for r in qs.values_list(*cols)), key=lambda r: [(v is not None, v) for v in r])

    key = ("project_id", "building_id", "collector_id", "fee_item_id")
    return {
        "figures": rows(MonthFigure.objects.filter(kind=FigureKind.LIVE), "period", "revision", *key, *MEASURES),
        "rollups": rows(MonthRollup.objects.filter(kind=FigureKind.LIVE), "period", "revision", "project_id",
                        "collector_id", "fee_item_id", *MEASURES),
        "units": rows(UnitFigure.objects.filter(kind=FigureKind.LIVE), "period", "revision", *key, "unit_id",
                      "bucket", "open_fen", "lines", "oldest_due"),
        "totals": rows(UnitTotal.objects.filter(period=period), "project_id", "building_id", "collector_id",
                       "unit_id", "bucket", "open_fen", "lines", "oldest_due"),
    }


def row_ids() -> dict[str, set]:
    return {"figures": set(MonthFigure.objects.filter(kind=FigureKind.LIVE).values_list("pk", "recorded_at")),
            "rollups": set(MonthRollup.objects.filter(kind=FigureKind.LIVE).values_list("pk", flat=True)),
            "units": set(UnitFigure.objects.filter(kind=FigureKind.LIVE).values_list("pk", flat=True)),
            "totals": set(UnitTotal.objects.values_list("pk", flat=True))}


class _Undo(Exception):
    pass


def full_recompute(today: dt.date) -> dict[str, list]:
    """What a full refresh would store now (written inside a savepoint that is rolled back)."""
    out: dict = {}
    try:
        with transaction.atomic():
            live_refresh(today=today, full=True)
            out.update(stored(today.replace(day=1)))
            raise _Undo
    except _Undo:
        pass
    return out


def assert_incremental_equals_full(today: dt.date) -> None:
    live_refresh(today=today)
    assert stored(today.replace(day=1)) == full_recompute(today)


# --- random histories ----------------------------------------------------------------------------------------

KINDS = ("pay", "pay_big", "reverse", "waive", "write_off", "void", "bill", "move", "territory", "untie", "day",
         "nothing")


def step(alice, bob, projects, kind: str, which: int, n: int, today: dt.date) -> dt.date:
    """Do one event of the walk as of ``today``; returns the (possibly next) day."""
    from wuye.accounts.models import Territory
    from wuye.billing.choices import AdjustmentKind, PaymentMethod
    from wuye.billing.models import Bill, Payment
    from wuye.billing.services import adjustment_request, bill_generate, payment_record, payment_reverse
    from wuye.estate.models import Unit

    e = projects[which % 2]
    unit = e["units"][n % len(e["units"])]
    at = dt.datetime(today.year, today.month, today.day, 9 + n % 8, tzinfo=CN)
    open_bill = Bill.objects.filter(unit=unit, is_void=False, late_fee_of=None,
                                    settled_fen__lt=models_F("amount_fen")).order_by("due_date").first()
    try:
        with transaction.atomic():
            if kind in ("pay", "pay_big"):
                payment_record(actor=alice, unit=unit, amount_fen=(90000 if kind == "pay_big" else 3000 + 1000 * n),
                               method=PaymentMethod.CASH, paid_at=at)
            elif kind == "reverse":
                last = Payment.objects.filter(unit=unit, amount_fen__gt=0, reversed_by__isnull=True).last()
                if last is not None:
                    payment_reverse(actor=alice, payment=last, reason="退票")
            elif kind in ("waive", "write_off", "void") and open_bill is not None:
                adjustment_request(actor=alice, bill=open_bill, reason="随机",
                                   kind={"waive": AdjustmentKind.WAIVE_PRINCIPAL, "write_off": AdjustmentKind.WRITE_OFF,
                                         "void": AdjustmentKind.VOID}[kind],
                                   amount_fen=(open_bill.amount_fen - open_bill.settled_fen) // 2 or None
                                   if kind == "waive" else None,
                                   reissue_amount_fen=open_bill.amount_fen // 2 if kind == "void" else None)
            elif kind == "bill":
                bill_generate(actor=alice, project=e["project"], period=dt.date(2026, 4, 1), on=today)
            elif kind == "move":  # another floor, or the other building of the project
                fresh = Unit.objects.get(pk=unit.pk)
                if n % 2:
                    fresh.floor = None if fresh.floor == 3 else (fresh.floor or 0) % 3 + 1
                else:
                    fresh.building = e["buildings"][1 - e["buildings"].index(fresh.building)]
                fresh.save()
            elif kind == "territory":  # written as the admin would: no service, no announcement
                Territory.objects.filter(building=e["buildings"][0], user=bob).update(floor_to=1 + n % 3)
            elif kind == "untie":
                Territory.objects.filter(building=e["buildings"][n % 2]).delete()
            elif kind == "day":
                return min(today + dt.timedelta(days=1 + n % 3), dt.date(2026, 3, 31))
    except ValidationError:
        pass  # an event that makes no sense now (nothing left to waive …)
    return today


def models_F(name):
    from django.db.models import F

    return F(name)


histories = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 1), st.integers(0, 40)), min_size=1,
                     max_size=6)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(history=histories)
def test_the_incremental_snapshot_equals_a_full_recompute_after_every_step(alice, bob, two, history):
    with transaction.atomic():  # each example starts from the same two projects
        today = dt.date(2026, 3, 12)
        live_refresh(today=today)
        for kind, which, n in history:
            day = step(alice, bob, two, kind, which, n, today)
            assert_incremental_equals_full(day)
            state = LiveSnapshot.objects.get(period=MONTH)
            assert state.full == (day != today), (kind, state.full)  # a new day in full, anything else not
            assert not LiveChange.objects.exists()
            today = day
        transaction.set_rollback(True)


# --- what a refresh writes -----------------------------------------------------------------------------------

TODAY = dt.date(2026, 3, 12)


def test_nothing_changed_writes_nothing(two):
    assert live_refresh(today=TODAY) > 0  # the first snapshot of the month: in full
    state = LiveSnapshot.objects.get(period=MONTH)
    assert state.full and state.as_of == TODAY
    before, rows = row_ids(), stored()
    assert live_refresh(today=TODAY) == 0
    assert row_ids() == before and stored() == rows
    again = LiveSnapshot.objects.get(period=MONTH)
    assert (again.full, again.buildings, again.written) == (False, 0, 0)
    assert again.taken_at > state.taken_at  # the page's 截至 moves on: the snapshot is as of now


def test_a_payment_in_one_project_rewrites_only_that_projects_rows(alice, two):
    from wuye.billing.choices import PaymentMethod
    from wuye.billing.services import payment_record

    a, b = two
    live_refresh(today=TODAY)
    before = row_ids()
    keep = {name: {r for r in qs} for name, qs in (
        ("figures", MonthFigure.objects.filter(kind=FigureKind.LIVE).exclude(project=a["project"]).values_list("pk")),
        ("units", UnitFigure.objects.filter(kind=FigureKind.LIVE).exclude(project=a["project"]).values_list("pk")),
        ("totals", UnitTotal.objects.exclude(project=a["project"]).values_list("pk")),
        ("rollups", MonthRollup.objects.filter(kind=FigureKind.LIVE).exclude(project=a["project"]).values_list("pk")))}
    other_building = MonthFigure.objects.filter(kind=FigureKind.LIVE, building=a["buildings"][1]).values_list("pk")
    other_building = set(other_building)
    unit = a["units"][0]  # building 1
    payment_record(actor=alice, unit=unit, amount_fen=12345, method=PaymentMethod.CASH,
                   paid_at=dt.datetime(2026, 3, 12, 11, tzinfo=CN))
    assert LiveChange.objects.filter(unit_id=unit.pk).exists()
    written = live_refresh(today=TODAY)
    assert 0 < written < len(before["figures"])
    state = LiveSnapshot.objects.get(period=MONTH)
    assert (state.full, state.buildings) == (False, 1)
    for name, ids in keep.items():  # project B: the very same rows
        model = {"figures": MonthFigure, "units": UnitFigure, "totals": UnitTotal, "rollups": MonthRollup}[name]
        assert ids <= set(model.objects.values_list("pk")), name
    assert other_building <= set(MonthFigure.objects.values_list("pk"))  # A's other building too
    changed = set(MonthFigure.objects.filter(kind=FigureKind.LIVE).values_list("pk")) - {(p,) for p, _ in
                                                                                       before["figures"]}
    assert changed and set(MonthFigure.objects.filter(pk__in=[c[0] for c in changed]).values_list(
        "project_id", "building_id")) == {(a["project"].pk, a["buildings"][0].pk)}
    assert stored() == full_recompute(TODAY)


def test_a_territory_edited_without_a_service_moves_its_buildings_rows(bob, two):
    from wuye.accounts.models import Territory

    a, _ = two
    live_refresh(today=TODAY)
    Territory.objects.filter(building=a["buildings"][0]).update(floor_to=3)  # bob now holds floor 3 too
    assert live_refresh(today=TODAY) > 0
    assert LiveSnapshot.objects.get(period=MONTH).buildings == 1
    assert stored() == full_recompute(TODAY)
    assert UnitTotal.objects.filter(building=a["buildings"][0], collector=bob, bucket="").count() \
        == UnitTotal.objects.filter(building=a["buildings"][0], bucket="").exclude(unit__floor=None).count()


@pytest.mark.parametrize("how", ["building", "floor"])
def test_a_unit_moved_leaves_both_buildings_right(how, two):
    from wuye.estate.models import Unit

    a, _ = two
    live_refresh(today=TODAY)
    unit = Unit.objects.get(pk=a["units"][0].pk)  # building 1, floor 1 (bob's)
    if how == "building":
        unit.building = a["buildings"][1]
    else:
        unit.floor = 3  # building 1's floor 3: nobody's
    unit.save()
    assert set(LiveChange.objects.values_list("building_id", flat=True)) == {b.pk for b in a["buildings"]} \
        if how == "building" else {a["buildings"][0].pk}
    assert live_refresh(today=TODAY) > 0
    assert stored() == full_recompute(TODAY)


@pytest.mark.parametrize("why", ["first", "day", "version", "asked", "everything"])
def test_a_full_refresh_when_an_incremental_one_could_be_wrong(why, two, monkeypatch):
    from wuye.common.changes import everything_changed
    from wuye.insights import snapshot

    today = TODAY
    if why != "first":
        live_refresh(today=TODAY)
    if why == "day":
        today = TODAY + dt.timedelta(days=1)  # every ageing bucket moves with the date
    elif why == "version":
        monkeypatch.setattr(snapshot, "LIVE_VERSION", snapshot.LIVE_VERSION + 1)
    elif why == "everything":
        everything_changed()
    live_refresh(today=today, full=why == "asked")
    state = LiveSnapshot.objects.get(period=MONTH)
    assert state.full and state.as_of == today
    assert stored() == full_recompute(today)


def test_a_new_month_starts_in_full_and_drops_the_last_months_provisional_rows(two):
    live_refresh(today=dt.date(2026, 2, 20))
    assert LiveSnapshot.objects.filter(period=dt.date(2026, 2, 1)).exists()
    live_refresh(today=TODAY)
    assert list(LiveSnapshot.objects.values_list("period", flat=True)) == [MONTH]
    assert set(MonthFigure.objects.filter(kind=FigureKind.LIVE).values_list("period", flat=True)) == {MONTH}
