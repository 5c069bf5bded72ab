"""The 支付令 and lawsuit checks read each claimed period's limitation clock as it stands on the filing day, not
the expiry frozen when the case was opened: a court filing must not rely on a period that has since become
time-barred, and a period the debtor has acknowledged since is claimed — and checked — like the drafts claim it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from wuye.legal import services
from wuye.legal.choices import DocumentKind, Event
from wuye.legal.documents import draft
from wuye.legal.eligibility import payment_order_conditions

D = dt.date
TODAY = D(2026, 12, 4)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr(services, "_today", lambda: TODAY)


def _condition(case, code):
    return next(c for c in payment_order_conditions(case, as_of=TODAY) if c.code == code)


def test_a_period_kept_alive_only_by_a_payment_reversed_since_opening_is_refused(book, estate, carol):
    unit = estate["units"][0]
    bill = book.line(unit, D(2023, 6, 15))
    payment = book.pay(bill, D(2024, 1, 10), 1_000)  # the partial payment restarted the clock: to 2027-01
    case = services.case_open(actor=carol, project=book.project, party=bill.party, on=D(2026, 12, 1))
    line = case.lines.get()
    assert not line.barred and line.expiry >= D(2027, 1, 10)
    book.reverse(payment, D(2026, 12, 2))  # the payment was recorded in error: it never interrupted anything

    limitation = _condition(case, "limitation")
    assert not limitation.ok and "所有账期均已超过诉讼时效" in limitation.detail
    assert not _condition(case, "owing").ok
    with pytest.raises(ValidationError) as exc:
        services.case_event_add(actor=carol, case=case, event=Event.PAYMENT_ORDER_FILED, on=TODAY, court="西湖区人民法院")
    assert "在诉讼时效期间内" in str(exc.value)
    assert not case.events.filter(event=Event.PAYMENT_ORDER_FILED).exists()
    # the draft agrees: nothing left to claim
    assert draft(case, DocumentKind.PAYMENT_ORDER, as_of=TODAY).barred == ["2023-06"]


def test_a_period_barred_at_opening_and_acknowledged_since_is_checked_as_claimed(book, estate, carol):
    unit = estate["units"][0]
    old = book.line(unit, D(2023, 1, 15))  # no interruption: ran out in January 2026
    book.line(unit, D(2024, 3, 15))
    case = services.case_open(actor=carol, project=book.project, party=old.party, on=D(2026, 12, 1))
    assert case.lines.get(bill=old).barred
    book.promise(unit, D(2026, 12, 2))  # the debtor agrees to pay (诉讼时效规定 19): no lapse can be pleaded

    limitation = _condition(case, "limitation")
    assert limitation.ok and "2023-01 立案时已过时效" in limitation.detail and "不列入" not in limitation.detail
    demand = _condition(case, "demand")
    assert not demand.ok and "2023-01" in demand.detail  # the check now covers the period the draft claims
    assert "2023-01" not in draft(case, DocumentKind.PAYMENT_ORDER, as_of=TODAY).barred
