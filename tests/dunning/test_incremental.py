"""The incremental daily run (issue 18, decision 62): it decides only accounts whose inputs were written or
whose next decision date has come, and ends every day with exactly the outbox a full run would have.

The property test walks random account histories day by day (bills, partial payments, promises kept and
broken, holds, disputes, contact invalidation, ladder edits, sales, class changes) and after each day's
incremental run asks a full decision of every account (a dry run) whether it would write anything the
outbox does not already hold: an action, a held-account record, a broken promise, an episode. The
deterministic tests pin each kind of marker: a write today changes tomorrow's decision; an unrelated account
is not decided."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wuye.billing.choices import PaymentMethod
from wuye.billing.services import payment_record
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, DecisionState, Episode, HeldAccount, Hold, ProjectDecisionState

from .scenario import CST, lone_estate

D = dt.date
pytestmark = [pytest.mark.django_db]


# --- the check ----------------------------------------------------------------------------------------------

def assert_full_run_agrees(day: dt.date) -> None:
    """A full decision of every account now would write nothing the incremental run has not written."""
    from wuye.billing.selectors import account_summaries

    full = dunning_run(as_of=day, dry_run=True, full=True)
    have = set(Action.objects.values_list("unit_id", "step_id", "cycle"))
    missing = sorted((o.unit_id, d.step.name, d.cycle) for o in full.outcomes for d in o.decisions
                     if (d.unit_id, d.step.pk, d.cycle) not in have)
    assert not missing, f"{day}: a full run would decide {missing}"
    held = {o.unit_id for o in full.outcomes if o.held}
    recorded = set(HeldAccount.objects.filter(run_date=day).values_list("unit_id", flat=True))
    assert held == recorded, f"{day}: held accounts {held} but recorded {recorded}"
    broken = [h for o in full.outcomes for h in o.broken_promises]
    assert not broken, f"{day}: promises {broken} broken but not released"
    arrears = {s.account for s in account_summaries(as_of=day) if s.overdue_fen > 0}
    episodes = set(Episode.objects.filter(closed_on__isnull=True).values_list("unit_id", "party_id"))
    assert arrears == episodes, f"{day}: accounts in arrears {arrears}, open episodes {episodes}"


def walk_checked(start: dt.date, end: dt.date, events: dict) -> None:
    """``scenario.walk_days`` with the check after each day's run."""
    from wuye.billing.installments import installment_refresh
    from wuye.casework.services import dispute_holds_expire, promises_broken_settle
    from wuye.dunning.dispatch import dispatch

    day = start
    while day <= end:
        for fn in events.get(day, ()):
            fn()
        installment_refresh(as_of=day)
        dispute_holds_expire(as_of=day)
        dunning_run(as_of=day)
        assert_full_run_agrees(day)
        promises_broken_settle(as_of=day)
        dispatch(now=dt.datetime(day.year, day.month, day.day, 10, 0, tzinfo=CST))
        for fn in events.get((day, "pm"), ()):
            fn()
        day += dt.timedelta(days=1)


# --- random histories ---------------------------------------------------------------------------------------

KINDS = ("pay", "pay_all", "promise", "hold", "release", "dispute", "invalid", "policy", "sale", "class", "bill",
         "reverse", "segment")
START = D(2026, 1, 1)
DAYS = 40  # 01-01 … 02-09: pre-due reminders, the January arrears ladder, February coming due
_codes = itertools.count(1)


def event(actor, project, units, kind: str, unit_index: int, n: int, day: dt.date):
    from django.db.models import F, Sum

    from wuye.billing.models import Bill, Payment
    from wuye.billing.services import bill_generate, payment_reverse
    from wuye.casework.services import dispute_open, promise_make
    from wuye.dunning.choices import AccountClass, Segment
    from wuye.dunning.models import Policy
    from wuye.dunning.services import (
        account_class_set,
        hold_place,
        hold_release,
        policy_save,
        segment_override_set,
    )
    from wuye.estate.choices import ContactValidity, OccupantRole
    from wuye.estate.models import ContactPoint, Occupancy, Party
    from wuye.estate.services import contact_set_validity, occupancy_end, occupancy_start

    unit = units[unit_index % len(units)]
    at = dt.datetime(day.year, day.month, day.day, 15, tzinfo=CST)

    def owed() -> int:
        return Bill.objects.filter(unit=unit, is_void=False).aggregate(
            t=Sum(F("amount_fen") - F("settled_fen")))["t"] or 0

    def run():
        try:
            with transaction.atomic():
                if kind == "pay":
                    payment_record(actor=actor, unit=unit, amount_fen=n * 1000, method=PaymentMethod.CASH, paid_at=at)
                elif kind == "pay_all" and owed() > 0:
                    payment_record(actor=actor, unit=unit, amount_fen=owed(), method=PaymentMethod.CASH, paid_at=at)
                elif kind == "promise":
                    promise_make(actor=actor, unit=unit, promised_on=day + dt.timedelta(days=n % 9 + 1), on=day)
                elif kind == "hold":
                    hold_place(actor=actor, unit=unit, kind="manual", reason="经理同意暂缓", starts_on=day,
                               until=day + dt.timedelta(days=n % 15 + 1))
                elif kind == "release":
                    for h in Hold.objects.filter(unit=unit, released_on__isnull=True)[:1]:
                        hold_release(actor=actor, hold=h, note="解除", on=day)
                elif kind == "dispute":
                    dispute_open(actor=actor, unit=unit, reason="house_quality", description="漏水未修", on=day,
                                 hold_until=day + dt.timedelta(days=n % 20 + 1))
                elif kind == "invalid":
                    for c in ContactPoint.objects.filter(party__occupancies__unit=unit)[:1]:
                        contact_set_validity(actor=actor, contact=c, validity=ContactValidity.SUSPENDED,
                                             verified_on=day)
                elif kind == "policy":
                    policy = Policy.objects.filter(project=project, active=True, segment="").first()
                    step = policy.steps.filter(repeat_days__isnull=False, active=True).order_by("order").first()
                    if step is not None:
                        policy_save(actor=actor, policy=policy, active=True, valid_from=None, valid_to=None,
                                    steps=[{"id": step.pk, "repeat_days": n % 6 + 1}])
                elif kind == "sale":
                    current = Occupancy.objects.filter(unit=unit, role=OccupantRole.OWNER, end__isnull=True).first()
                    buyer = Party.objects.create(name=f"买方{n}", natural_key=f"buyer:{next(_codes)}")
                    if current is not None and current.start < day:
                        occupancy_end(actor=actor, occupancy=current, end=day - dt.timedelta(days=1))
                    occupancy_start(actor=actor, unit=unit, party=buyer, role=OccupantRole.OWNER, start=day)
                elif kind == "class":
                    klass = sorted(AccountClass.values)[n % len(AccountClass.values)]
                    account_class_set(actor=actor, unit=unit, account_class=klass, on=day, reason="随机")
                elif kind == "bill":
                    bill_generate(actor=actor, project=project, period=D(2026, 3, 1))
                elif kind == "reverse":
                    last = Payment.objects.filter(unit=unit, amount_fen__gt=0, reversal_of__isnull=True).last()
                    if last is not None:
                        payment_reverse(actor=actor, payment=last, reason="退票")
                elif kind == "segment":
                    segment_override_set(actor=actor, unit=unit, segment=[Segment.HARDSHIP, None][n % 2],
                                         reason="随机")
        except ValidationError:
            pass  # an event that makes no sense today (nothing owed, a sale the day after another …)
    return run


histories = st.lists(st.tuples(st.integers(0, DAYS - 1), st.sampled_from(KINDS), st.integers(0, 2),
                               st.integers(1, 40), st.booleans()), max_size=10)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(history=histories)
def test_the_incremental_run_writes_what_a_full_run_would(alice, history):
    with transaction.atomic():
        project, units = lone_estate(alice, units=2, months=2, code=f"H{next(_codes)}")
        events: dict = {}
        for offset, kind, unit_index, n, afternoon in history:
            day = START + dt.timedelta(days=offset)
            key = (day, "pm") if afternoon else day
            events.setdefault(key, []).append(event(alice, project, units, kind, unit_index, n, day))
        walk_checked(START, START + dt.timedelta(days=DAYS - 1), events)
        transaction.set_rollback(True)


# --- each kind of marker ------------------------------------------------------------------------------------

def decided_on(unit) -> dt.date | None:
    return DecisionState.objects.filter(unit=unit).values_list("decided_on", flat=True).first()


@pytest.fixture
def three(alice):
    """Three owners billed January (due 01-15), run daily from 01-16 to 01-20: all three in arrears, the
    day-1 SMS and the day-3 call decided, nothing due on 01-21."""
    project, units = lone_estate(alice, units=3, months=1)
    for day in range(16, 21):
        dunning_run(as_of=D(2026, 1, day))
    return project, units


def test_a_same_day_rerun_decides_nothing(three):
    again = dunning_run(as_of=D(2026, 1, 20))
    assert (again.mode, again.accounts_decided, again.actions_created) == ("incremental", 0, 0)
    assert again.accounts_in_arrears == 3  # the recorded figure of the accounts not decided


def test_an_unrelated_account_is_not_decided(three):
    project, (a, b, c) = three
    nxt = DecisionState.objects.get(unit=b).next_on
    assert nxt is not None and nxt > D(2026, 1, 21)
    before = decided_on(b)
    result = dunning_run(as_of=D(2026, 1, 21))
    assert result.accounts_decided == 0
    assert decided_on(b) == before


def test_a_payment_today_changes_tomorrows_decision(alice, three):
    project, (a, b, c) = three
    payment_record(actor=alice, unit=a, amount_fen=20000, method=PaymentMethod.CASH,
                   paid_at=dt.datetime(2026, 1, 20, 15, tzinfo=CST))
    state = DecisionState.objects.get(unit=a)
    assert state.mark != state.seen
    before = decided_on(b)
    result = dunning_run(as_of=D(2026, 1, 21))
    assert result.accounts_decided == 0  # a paid-up account has nothing open: decided, nothing to look at
    assert decided_on(a) == D(2026, 1, 21) and decided_on(b) == before
    assert not Episode.objects.filter(unit=a, closed_on__isnull=True).exists()  # its episode closed
    state.refresh_from_db()
    assert (state.mark == state.seen, state.arrears, result.accounts_in_arrears) == (True, 0, 2)


def test_a_hold_and_its_end_are_decided(alice, three):
    from wuye.dunning.services import hold_place

    project, (a, b, c) = three
    hold_place(actor=alice, unit=a, kind="manual", reason="住院", starts_on=D(2026, 1, 21), until=D(2026, 1, 25))
    before = decided_on(b)
    dunning_run(as_of=D(2026, 1, 21))
    assert HeldAccount.objects.filter(unit=a, run_date=D(2026, 1, 21)).exists()
    assert decided_on(b) == before
    assert dunning_run(as_of=D(2026, 1, 21)).held == 1  # a re-run counts the day's held accounts it did not decide
    for day in range(22, 27):
        dunning_run(as_of=D(2026, 1, day))
    assert HeldAccount.objects.filter(unit=a).count() == 5  # 01-21 … 01-25, one a day
    assert decided_on(a) == D(2026, 1, 26)  # the day after the hold ended


def test_a_promise_is_reminded_on_its_eve_and_broken_the_day_after(alice, three):
    from wuye.casework.services import promise_make

    project, (a, b, c) = three
    promise_make(actor=alice, unit=a, promised_on=D(2026, 1, 24), on=D(2026, 1, 20))
    for day in range(21, 26):
        dunning_run(as_of=D(2026, 1, day))
    hold = Hold.objects.get(unit=a, kind="promise")
    assert (hold.outcome, hold.released_on) == ("broken", D(2026, 1, 25))
    assert Action.objects.filter(unit=a, decided_on=D(2026, 1, 23), cycle__startswith="PD").exists()


def test_a_ladder_edit_decides_its_project_in_full(alice, three):
    from wuye.dunning.models import Policy
    from wuye.dunning.services import policy_save

    project, units = three
    policy = Policy.objects.filter(project=project, active=True, segment="").first()
    step = policy.steps.filter(repeat_days__isnull=False, active=True).order_by("order").first()
    policy_save(actor=alice, policy=policy, active=True, valid_from=None, valid_to=None,
                steps=[{"id": step.pk, "repeat_days": 1}])
    state = ProjectDecisionState.objects.get(project=project)
    assert state.mark != state.seen
    result = dunning_run(as_of=D(2026, 1, 21))
    assert (result.mode, result.accounts_decided) == ("full", 3)
    assert dunning_run(as_of=D(2026, 1, 21)).accounts_decided == 0


def test_a_calendar_change_decides_every_project_in_full(alice, three):
    from wuye.dunning.services import calendar_days_enter

    calendar_days_enter(actor=alice, days=[(D(2026, 1, 21), "holiday", "临时放假")])
    assert dunning_run(as_of=D(2026, 1, 21)).mode == "full"


@pytest.mark.parametrize("what", ["class", "sale", "segment", "contact", "preference", "state"])
def test_each_write_marks_its_unit(alice, three, what):
    from wuye.dunning.choices import AccountClass, Segment
    from wuye.dunning.services import account_class_set, segment_override_set
    from wuye.estate.choices import ContactValidity, OccupantRole
    from wuye.estate.models import ContactPoint, Occupancy, Party
    from wuye.estate.services import contact_set_validity, occupancy_start, unit_set_state

    project, (a, b, c) = three
    if what == "class":
        account_class_set(actor=alice, unit=a, account_class=AccountClass.AWAY, on=D(2026, 1, 20))
    elif what == "sale":
        buyer = Party.objects.create(name="买方", natural_key="buyer:x")
        Occupancy.objects.filter(unit=a, end__isnull=True).update(end=D(2026, 1, 20))
        occupancy_start(actor=alice, unit=a, party=buyer, role=OccupantRole.OWNER, start=D(2026, 1, 21))
    elif what == "segment":
        segment_override_set(actor=alice, unit=a, segment=Segment.HARDSHIP, reason="低保")
    elif what == "contact":
        contact_set_validity(actor=alice, contact=ContactPoint.objects.filter(party__occupancies__unit=a).first(),
                             validity=ContactValidity.EMPTY, verified_on=D(2026, 1, 20))
    elif what == "preference":
        from wuye.common.changes import units_changed

        units_changed([a.pk])  # what portal.services.contact_preference_set calls
    elif what == "state":
        unit_set_state(actor=alice, unit=a, state="vacant", since=D(2026, 1, 20))
    marked = {s.unit_id for s in DecisionState.objects.all() if s.mark != s.seen}
    assert marked == {a.pk}
    before = decided_on(b)
    dunning_run(as_of=D(2026, 1, 21))
    assert decided_on(a) == D(2026, 1, 21) and decided_on(b) == before


def test_an_owner_in_force_by_date_is_decided_on_that_date(alice, three):
    """A sale recorded ahead of its date changes the segment on the date itself, with nothing written then."""
    from wuye.estate.choices import OccupantRole
    from wuye.estate.models import Party
    from wuye.estate.services import occupancy_start

    project, (a, b, c) = three
    buyer = Party.objects.create(name="投资客", natural_key="buyer:y", is_investor=True)
    occupancy_start(actor=alice, unit=a, party=buyer, role=OccupantRole.OWNER, start=D(2026, 1, 23))
    for day in range(21, 24):
        dunning_run(as_of=D(2026, 1, day))
    assert decided_on(a) == D(2026, 1, 23)


def test_the_full_flag_decides_every_account(three):
    result = dunning_run(as_of=D(2026, 1, 20), full=True)
    assert (result.mode, result.accounts_decided, result.actions_created) == ("full", 3, 0)


def test_a_mark_made_while_the_run_decides_survives(alice, three, monkeypatch):
    """The run consumes the marker value it read, so a write that lands after the read is decided again."""
    from wuye.dunning import engine
    from wuye.dunning.marks import mark_units

    project, (a, b, c) = three
    mark_units([a.pk])
    real = engine._accounts_across  # the whole-estate run reads each chunk's accounts here

    def racing(*args, **kwargs):
        mark_units([a.pk])  # another transaction's write, after the run read the markers
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "_accounts_across", racing)
    dunning_run(as_of=D(2026, 1, 21))
    state = DecisionState.objects.get(unit=a)
    assert state.mark == state.seen + 1
