"""Worked limitation cases: each row is a history written into the ledger and the outbox, and the limitation
clock the selector computes for one line of it (start, last interruption, expiry, flags)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.legal.conftest import at
from wuye.dunning.calendar import Calendar
from wuye.legal import limitation
from wuye.legal.choices import Interruption
from wuye.legal.clocks import limitation_clocks

D = dt.date
AS_OF = D(2026, 6, 1)


def _case_with(book, unit, bills, *events):
    """A legal case claiming ``bills`` with case events (event, date)."""
    from wuye.legal.models import CaseEvent, CaseLine, LegalCase

    case = LegalCase.objects.create(number=f"T{unit.pk}", project=book.project, party=bills[0].party,
                                    opened_on=D(2024, 1, 2), opened_by=book.alice)
    for b in bills:
        CaseLine.objects.create(case=case, bill=b, unit=unit, period_start=b.period_start, period_end=b.period_end,
                                fee_item="物业服务费", due_date=b.due_date, amount_fen=b.amount_fen,
                                open_fen=b.amount_fen, expiry=D(2026, 1, 1))
    for event, on in events:
        CaseEvent.objects.create(case=case, event=event, stage="payment_order", on=on, created_by=book.alice)
    return case


# Each scenario: (name, build(book, unit) -> the bill to look at, expected expiry, expected last interruption kind
# or None, extra expectations)
def s_no_event(book, u):
    return book.line(u, D(2023, 3, 15))


def s_second_period_own_start(book, u):
    book.line(u, D(2023, 3, 15))
    return book.line(u, D(2023, 4, 15))


def s_sms_delivered(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.demand(u, [b.period_start], channel="sms", delivered=D(2023, 6, 1))
    return b


def s_sms_undelivered(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.demand(u, [b.period_start], channel="sms", sent=D(2023, 6, 1))  # sent, no delivery receipt
    return b


def s_sms_failed(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.demand(u, [b.period_start], channel="sms", sent=D(2023, 6, 1), status="failed")
    return b


def s_wechat_delivered(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.demand(u, [b.period_start], channel="wechat", delivered=D(2023, 8, 3))
    return b


def s_email_delivered(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.demand(u, [b.period_start], channel="email", delivered=D(2023, 8, 4))
    return b


def s_posted_notice(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.demand(u, [b.period_start], channel="notice", sent=D(2023, 9, 4))  # posted on the door, never signed
    return b


def s_signed_notice(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.demand(u, [b.period_start], channel="notice", delivered=D(2023, 9, 4))
    return b


def s_registered_signed(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.demand(u, [b.period_start], channel="registered", delivered=D(2023, 7, 10))
    return b


def s_call_is_not_a_demand(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.demand(u, [b.period_start], channel="call", delivered=D(2023, 7, 10))
    return b


def s_demand_names_other_period(book, u):
    b = book.line(u, D(2023, 4, 15))
    march = book.line(u, D(2023, 3, 15))
    book.demand(u, [march.period_start], channel="sms", delivered=D(2023, 6, 1))  # names March only
    return b


def s_payment_interrupts_its_line(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.pay(b, D(2024, 1, 10), 3_000)
    return b


def s_payment_of_another_line(book, u):
    b = book.line(u, D(2023, 3, 15))
    other = book.line(u, D(2023, 4, 15))
    book.pay(other, D(2024, 1, 10), 3_000)  # pays April only: March's clock keeps running
    return b


def s_reversed_payment(book, u):
    b = book.line(u, D(2023, 3, 15))
    payment = book.pay(b, D(2024, 1, 10), 3_000)
    book.reverse(payment, D(2024, 1, 12))
    return b


def s_installment_plan(book, u):
    b = book.line(u, D(2023, 3, 15), created=D(2023, 3, 1))
    book.plan(u, D(2023, 11, 20))
    return b


def s_installment_not_covering_later_line(book, u):
    book.plan(u, D(2023, 11, 20))
    return book.line(u, D(2024, 1, 15), created=D(2024, 1, 1))


def s_promise(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.promise(u, D(2023, 10, 9))
    return b


def s_withdrawn_promise(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.promise(u, D(2023, 10, 9), withdrawn=True)
    return b


def s_promise_of_another_party(book, u):
    from wuye.estate.models import Party

    b = book.line(u, D(2023, 3, 15))
    buyer = Party.objects.create(name="买受人", natural_key="buyer-x")
    book.promise(u, D(2023, 10, 9), party=buyer)  # the buyer's promise is not the seller's acknowledgement
    return b


def s_holiday_expiry(book, u):
    return book.line(u, D(2023, 2, 16))  # 3 years on: 2026-02-17, Spring Festival


def s_weekend_expiry(book, u):
    return book.line(u, D(2023, 3, 13))  # 2026-03-14 is a Saturday


def s_makeup_workday_expiry(book, u):
    return book.line(u, D(2023, 2, 13))  # 2026-02-14 is a Saturday worked in lieu (调休上班)


def s_uncovered_year(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.demand(u, [b.period_start], channel="sms", delivered=D(2024, 5, 20))  # → 2027: no calendar yet
    return b


def s_demand_after_expiry(book, u):
    b = book.line(u, D(2020, 1, 15))  # expired 2023-01-16
    book.demand(u, [b.period_start], channel="registered", delivered=D(2023, 6, 1))
    return b


def s_payment_after_expiry(book, u):
    b = book.line(u, D(2020, 1, 15))
    book.pay(b, D(2024, 3, 1), 1_000)  # applied to the oldest line: what was paid stays paid, the rest stays barred
    return b


def s_promise_after_expiry(book, u):
    b = book.line(u, D(2020, 1, 15))
    book.promise(u, D(2024, 3, 1))  # the debtor agreed to pay: the lapse can no longer be pleaded
    return b


def s_last_of_several(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.demand(u, [b.period_start], channel="sms", delivered=D(2023, 6, 1))
    book.pay(b, D(2023, 9, 1), 1_000)
    book.demand(u, [b.period_start], channel="notice", delivered=D(2023, 4, 3))
    return b


def s_payment_order_filed(book, u):
    b = book.line(u, D(2023, 3, 15))
    _case_with(book, u, [b], ("payment_order_filed", D(2023, 12, 4)))
    return b


def s_mediation_requested(book, u):
    b = book.line(u, D(2023, 3, 15))
    _case_with(book, u, [b], ("mediation_requested", D(2023, 12, 5)))
    return b


def s_lawyer_letter_delivered(book, u):
    b = book.line(u, D(2023, 3, 15))
    _case_with(book, u, [b], ("letter_issued", D(2023, 12, 1)), ("letter_delivered", D(2023, 12, 6)))
    return b


def s_proceeding_ended(book, u):
    b = book.line(u, D(2023, 3, 15))
    _case_with(book, u, [b], ("lawsuit_filed", D(2023, 5, 8)), ("closed", D(2023, 11, 6)))
    return b


def s_demand_before_due(book, u):
    b = book.line(u, D(2023, 3, 15))
    book.demand(u, [b.period_start], channel="sms", delivered=D(2023, 3, 1))  # before the debt fell due
    return b


CASES = [
    ("no event: 3 years from the day after the due date", s_no_event, D(2026, 3, 16), None, {}),
    ("each period its own start", s_second_period_own_start, D(2026, 4, 16), None, {"start": D(2023, 4, 16)}),
    ("SMS with a delivery receipt interrupts", s_sms_delivered, D(2026, 6, 1), Interruption.MESSAGE, {}),
    ("SMS sent without a receipt does not", s_sms_undelivered, D(2026, 3, 16), None, {}),
    ("SMS failed does not", s_sms_failed, D(2026, 3, 16), None, {}),
    ("WeChat delivered interrupts", s_wechat_delivered, D(2026, 8, 3), Interruption.MESSAGE, {}),
    ("e-mail delivered interrupts", s_email_delivered, D(2026, 8, 4), Interruption.MESSAGE, {}),
    ("posted notice (never signed) does not", s_posted_notice, D(2026, 3, 16), None, {}),
    ("signed notice interrupts", s_signed_notice, D(2026, 9, 4), Interruption.NOTICE, {}),
    ("registered letter signed for interrupts", s_registered_signed, D(2026, 7, 10), Interruption.LETTER, {}),
    ("a call is not a written demand", s_call_is_not_a_demand, D(2026, 3, 16), None, {}),
    ("a demand naming only other periods", s_demand_names_other_period, D(2026, 4, 16), None, {}),
    ("partial payment interrupts the line it paid", s_payment_interrupts_its_line, D(2027, 1, 10),
     Interruption.PAYMENT, {"unchecked": True}),
    ("payment of another line does not", s_payment_of_another_line, D(2026, 3, 16), None, {}),
    ("a reversed payment does not", s_reversed_payment, D(2026, 3, 16), None, {}),
    ("installment plan covering the line", s_installment_plan, D(2026, 11, 20), Interruption.INSTALLMENT, {}),
    ("installment plan before the line existed", s_installment_not_covering_later_line, D(2027, 1, 16), None,
     {"unchecked": True}),
    ("promise to pay interrupts", s_promise, D(2026, 10, 9), Interruption.PROMISE, {}),
    ("a withdrawn promise does not", s_withdrawn_promise, D(2026, 3, 16), None, {}),
    ("another party's promise does not", s_promise_of_another_party, D(2026, 3, 16), None, {}),
    ("expiry on a public holiday moves to the next working day", s_holiday_expiry, D(2026, 2, 24), None,
     {"raw": D(2026, 2, 17)}),
    ("expiry on a Saturday moves to Monday", s_weekend_expiry, D(2026, 3, 16), None, {}),
    ("expiry on a make-up working Saturday stays", s_makeup_workday_expiry, D(2026, 2, 14), None, {}),
    ("a year no calendar covers: unextended and flagged", s_uncovered_year, D(2027, 5, 20), Interruption.MESSAGE,
     {"unchecked": True}),
    ("a demand after expiry does not revive", s_demand_after_expiry, D(2023, 1, 16), None,
     {"ignored": 1, "barred": True}),
    ("a payment after expiry does not revive the rest of the line", s_payment_after_expiry, D(2023, 1, 16), None,
     {"ignored": 1, "barred": True}),
    ("a promise after expiry revives (acknowledgement)", s_promise_after_expiry, D(2027, 3, 1),
     Interruption.PROMISE, {"revived": True, "unchecked": True}),
    ("the last of several events counts, in date order", s_last_of_several, D(2026, 9, 1), Interruption.PAYMENT,
     {"applied": 3}),
    ("支付令 filed interrupts", s_payment_order_filed, D(2026, 12, 4), Interruption.PAYMENT_ORDER, {}),
    ("mediation requested interrupts", s_mediation_requested, D(2026, 12, 7), Interruption.MEDIATION,
     {"raw": D(2026, 12, 5)}),
    ("lawyer's letter delivered interrupts", s_lawyer_letter_delivered, D(2026, 12, 7), Interruption.LAWYER_LETTER,
     {"raw": D(2026, 12, 6)}),
    ("the end of a proceeding restarts the clock", s_proceeding_ended, D(2026, 11, 6), Interruption.PROCEEDING_END,
     {"applied": 2}),
    ("a demand before the due date does not", s_demand_before_due, D(2026, 3, 16), None, {}),
]


@pytest.mark.parametrize(("name", "build", "expiry", "last_kind", "extra"), CASES, ids=[c[0] for c in CASES])
def test_worked_limitation_case(book, estate, name, build, expiry, last_kind, extra):
    unit = estate["units"][0]
    bill = build(book, unit)
    clocks = {lc.bill_id: lc for lc in limitation_clocks(as_of=AS_OF, unit_ids=[unit.pk], detail=True)}
    bulk = {lc.bill_id: lc for lc in limitation_clocks(as_of=AS_OF, project_id=book.project.pk)}
    lc = clocks[bill.pk]
    clock = lc.clock
    assert clock.start == extra.get("start", bill.due_date + dt.timedelta(days=1))
    assert clock.expiry == expiry, clock.explanation()
    assert (clock.last.kind if clock.last else None) == last_kind, clock.explanation()
    assert clock.holiday_unchecked == extra.get("unchecked", False)
    assert clock.revived == extra.get("revived", False)
    assert len(clock.ignored) == extra.get("ignored", 0)
    if "applied" in extra:
        assert len(clock.applied) == extra["applied"]
    if "raw" in extra:
        assert limitation.add_years(clock.anchor, 3) == extra["raw"]
    assert clock.barred(AS_OF) == extra.get("barred", expiry < AS_OF)
    # the grouped read for the whole estate gives the same date as the detailed one
    assert bulk[bill.pk].clock.expiry == clock.expiry
    assert bulk[bill.pk].clock.holiday_unchecked == clock.holiday_unchecked


def test_at_least_25_worked_cases():
    assert len(CASES) >= 25


# --- the pure function -------------------------------------------------------------------------------------

def _exp():
    return limitation.Expiries(Calendar(entered=[]))


def test_long_stop_twenty_years_from_the_start():
    due = D(2004, 1, 14)
    events = [limitation.Event(D(2004 + 2 * k, 6, 1), Interruption.PROMISE) for k in range(1, 12)]
    clock = limitation.compute(due_date=due, events=events, expiries=_exp())
    assert clock.long_stop == D(2024, 1, 15)
    assert clock.expiry == D(2024, 1, 15) and clock.capped
    assert "20 年" in clock.explanation()


def test_leap_day_anchor_ends_on_the_last_day_of_february():
    clock = limitation.compute(due_date=D(2024, 2, 28), events=[], expiries=_exp())
    assert clock.start == D(2024, 2, 29)
    assert clock.expiry == D(2027, 2, 28) and clock.holiday_unchecked


def test_administrator_entered_year_extends_the_date():
    days = [(D(2027, 5, 20), "holiday"), (D(2027, 5, 21), "holiday")]
    clock = limitation.compute(due_date=D(2024, 5, 19), events=[],
                               expiries=limitation.Expiries(Calendar(entered=days, confirmed_years=[2027])))
    assert clock.expiry == D(2027, 5, 24) and not clock.holiday_unchecked  # Thu, Fri off → Monday
    # the same days entered, the year not confirmed complete: Saturday 22 May is unknown → unextended, flagged
    clock = limitation.compute(due_date=D(2024, 5, 19), events=[],
                               expiries=limitation.Expiries(Calendar(entered=days)))
    assert clock.expiry == D(2027, 5, 20) and clock.holiday_unchecked


def test_state_barred_expiring_running():
    clock = limitation.compute(due_date=D(2023, 3, 15), events=[], expiries=_exp())
    assert clock.state(D(2026, 3, 17)) == "barred"
    assert clock.state(D(2026, 1, 1)) == "expiring"
    assert clock.state(D(2025, 1, 1)) == "running"


def test_explanation_names_the_events():
    ev = limitation.Event(D(2023, 6, 1), Interruption.MESSAGE, "催缴动作 #7 短信")
    late = limitation.Event(D(2030, 1, 1), Interruption.LETTER)
    clock = limitation.compute(due_date=D(2023, 3, 15), events=[late, ev], expiries=_exp())
    text = clock.explanation()
    assert "催缴动作 #7 短信" in text and "不产生中断" in text


def test_clock_of_a_line_with_a_party_on_the_action(book, estate):
    """When the outbox records the debtor (Action.party), a demand interrupts only that debtor's lines."""
    from wuye.legal.clocks import action_has_party

    if not action_has_party():
        pytest.skip("the outbox does not record the debtor yet")
    from wuye.estate.models import Party

    unit = estate["units"][0]
    seller = book.owner(unit)
    buyer = Party.objects.create(name="买受人", natural_key="buyer-y")
    b = book.line(unit, D(2023, 3, 15), party=seller)
    book.demand(unit, [b.period_start], channel="sms", delivered=D(2023, 6, 1), party=buyer)
    lc = limitation_clocks(as_of=AS_OF, unit_ids=[unit.pk])[0]
    assert lc.clock.expiry == D(2026, 3, 16)


def test_clock_in_local_days(book, estate):
    """A receipt at 23:30 Beijing time on 1 June (15:30 UTC) is a delivery on 1 June."""
    from wuye.dunning.models import Action

    unit = estate["units"][0]
    b = book.line(unit, D(2023, 3, 15))
    a = book.demand(unit, [b.period_start], channel="sms", delivered=D(2023, 6, 1))
    Action.objects.filter(pk=a.pk).update(delivered_at=at(D(2023, 6, 1), 23).replace(minute=30))
    bulk = limitation_clocks(as_of=AS_OF, project_id=book.project.pk)
    assert bulk[0].clock.expiry == D(2026, 6, 1)
