"""When an owner's prepaid money ran out (issue 13 item 10, seed 001, decision 116): the one definition
``engine.prepaid_run_outs`` read by the estate pass and the per-project pass, case by case on one ledger. The
account histories (once per run-out, top-up, sale, opt-out) are in ``test_scenarios.py`` (tests 26–28)."""

from __future__ import annotations

import datetime as dt

import pytest

from wuye.billing.choices import PaymentMethod
from wuye.billing.models import Bill
from wuye.billing.services import bill_generate, payment_record
from wuye.dunning import cycles
from wuye.dunning.engine import PREPAID_OUT_WINDOW, dunning_run, prepaid_run_outs

from .scenario import CST, lone_estate

D = dt.date
pytestmark = pytest.mark.django_db


def _bill(actor, project, day):
    run = bill_generate(actor=actor, project=project, period=day, on=day)
    Bill.objects.filter(run=run).update(created_at=dt.datetime(day.year, day.month, day.day, 1, tzinfo=CST))


def _pay(actor, unit, fen, day):
    payment_record(actor=actor, unit=unit, amount_fen=fen, method=PaymentMethod.CASH,
                   paid_at=dt.datetime(day.year, day.month, day.day, 10, tzinfo=CST))


@pytest.fixture
def ledger(alice):
    """Six flats billed ¥200.00 on 01-01, 02-01 and 03-01 (due on the 15th), each with its own history:

    exact     ¥400.00 prepaid: January and February paid by it, March left wholly unpaid
    by_hand   pays each bill at the desk after it is billed: never prepaid
    part_hand ¥300.00 prepaid: February paid half by it (run-out told on February), the rest at the desk
    arrears   ¥200.00 prepaid: January paid by it, February and March unpaid
    part      ¥500.00 prepaid: March paid half by it
    told      ¥200.00 prepaid: ran out on January, February paid at the desk"""
    project, units = lone_estate(alice, units=6, months=0)
    exact, by_hand, part_hand, arrears, part, told = units
    for unit, fen in ((exact, 40000), (part_hand, 30000), (arrears, 20000), (part, 50000), (told, 20000)):
        _pay(alice, unit, fen, D(2025, 12, 20))
    _bill(alice, project, D(2026, 1, 1))
    _pay(alice, by_hand, 20000, D(2026, 1, 10))
    _bill(alice, project, D(2026, 2, 1))
    at_february = prepaid_run_outs(D(2026, 2, 2))
    for unit, fen in ((by_hand, 20000), (part_hand, 10000), (told, 20000)):
        _pay(alice, unit, fen, D(2026, 2, 10))
    _bill(alice, project, D(2026, 3, 1))
    owner = {u.pk: u.bills.first().party_id for u in units}
    return {"project": project, "units": dict(zip(("exact", "by_hand", "part_hand", "arrears", "part", "told"),
                                                   units, strict=True)),
            "owner": owner, "at_february": at_february}


def _key(ledger, name):
    u = ledger["units"][name]
    return (u.pk, ledger["owner"][u.pk])


def test_the_run_out_bill_of_each_history(ledger):
    feb, mar = D(2026, 2, 15), D(2026, 3, 15)
    assert ledger["at_february"] == {_key(ledger, "part_hand"): feb, _key(ledger, "arrears"): feb,
                                     _key(ledger, "told"): feb}
    # ran out exactly on February (the case the partial-payment rule missed) and ran out on March itself
    assert prepaid_run_outs(D(2026, 3, 2)) == {_key(ledger, "exact"): mar, _key(ledger, "part"): mar}
    # until the due date, the same answer every day; after it, the ladder's
    assert prepaid_run_outs(mar) == prepaid_run_outs(D(2026, 3, 2))
    assert prepaid_run_outs(mar + dt.timedelta(days=1)) == {}


def test_the_estate_chunks_and_the_project_read_the_same(ledger):
    ids = sorted(u.pk for u in ledger["units"].values())
    whole = prepaid_run_outs(D(2026, 3, 2))
    assert prepaid_run_outs(D(2026, 3, 2), project_id=ledger["project"].pk) == whole
    assert {**prepaid_run_outs(D(2026, 3, 2), unit_ids=ids[:3]),
            **prepaid_run_outs(D(2026, 3, 2), unit_ids=ids[3:])} == whole
    assert prepaid_run_outs(D(2026, 3, 2), unit_ids=[]) == {}


def test_both_passes_decide_the_run_out_message(ledger):
    """The per-project pass (a project's run) and the estate pass (the daily run) decide it for the same
    accounts, with the key naming the bill's due date and the debtor."""
    from wuye.dunning.defaults import policies_install_defaults

    project = ledger["project"]
    policies_install_defaults(project)  # a dry run installs nothing
    expected = {(k[0], cycles.prepaid_out(D(2026, 3, 15), k[1])) for k in (_key(ledger, "exact"), _key(ledger, "part"))}
    dry = dunning_run(as_of=D(2026, 3, 2), project=project, dry_run=True)
    got = {(o.unit_id, d.cycle) for o in dry.outcomes for d in o.decisions
           if cycles.kind_of(d.cycle) == cycles.Kind.PREPAID_OUT}
    assert got == expected
    from wuye.dunning.models import Action

    dunning_run(as_of=D(2026, 3, 2))
    dunning_run(as_of=D(2026, 3, 2), project=project)
    written = set(Action.objects.filter(cycle__startswith="R").values_list("unit_id", "cycle"))
    assert written == expected


def test_a_bill_billed_long_ahead_is_decided_the_day_it_enters_the_window():
    """No scan looks for run-outs in an incremental run: the day a bill's due date comes within the window is
    one of the account's next decision dates."""
    from wuye.billing.selectors import AccountSummary
    from wuye.dunning.engine import Account, Rules, next_decision

    due = D(2026, 6, 15)
    s = AccountSummary(unit_id=1, overdue_fen=0, open_fen=20000, oldest_due=None, days_overdue=0,
                       overdue_periods=0, prepaid_fen=0, next_due=due, upcoming_fen=20000, project_id=1, party_id=1)
    assert next_decision(Account(summary=s, segment=""), None, D(2026, 4, 1), Rules(), None) == due - PREPAID_OUT_WINDOW
