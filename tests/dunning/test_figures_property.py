"""Property-based (issue 13 item 4): for random ledgers — bills over several months, partial payments, a charged
late fee (by a manager or at settlement), a sale between two parties, a payment after the run, with or without
a late-fee clause — every document reconciles with the ledger on the day it is made:

- the SMS text (as the dispatcher rendered it), the notice and the registered letter (PDF, read back with
  pdftotext), the referral draft and the statement of each debtor;
- lines sum to the 合计 row, 应缴合计 equals the ledger's matured unpaid principal plus charged unpaid 违约金 of
  that debtor, the capitals say the same figure with one 人民币, nothing not yet due is demanded, no other
  party's period appears, a settled account gets no demand, and without a clause nothing speaks of 违约金.

The oracle reads the ledger directly (bills, allocations, approved adjustments) rather than through
``billing.figures``."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.dunning.docparse import parse_page, parse_pages, pdf_text, upper_to_fen
from wuye.billing.documents import statement_pdf
from wuye.billing.models import Adjustment, Allocation, Bill, BillingPolicy
from wuye.billing.selectors import statement_for_unit
from wuye.billing.services import bill_generate, late_fee_post, payment_record, seed_default_fee_items
from wuye.common.formatting import format_yuan
from wuye.dunning.models import Action
from wuye.dunning.notices import Settled, notices_pdf, referral_draft_pdf

from .conftest import CST, dispatch_on
from .test_figures import make_action, reload

RUN = dt.date(2026, 9, 21)  # a Monday: the run that decides the demands
PRINT_DAYS = [dt.date(2026, 10, 13), dt.date(2026, 10, 20), dt.date(2026, 11, 10)]  # working days after it


@pytest.fixture
def one_unit(db, alice):
    """A small estate: one flat, its owner with a mobile, billed monthly (due the 15th)."""
    from wuye.estate.choices import ContactKind, ContactSource, OccupantRole, PartyKind
    from wuye.estate.models import Building, Party, Project, Unit
    from wuye.estate.services import contact_add, occupancy_start

    dev = Party.objects.create(kind=PartyKind.COMPANY, name="开发商", natural_key="dev:F", is_developer=True)
    project = Project.objects.create(code="F", name="核对花园", developer=dev)
    building = Building.objects.create(project=project, code="1", name="1幢", floors=6)
    unit = Unit.objects.create(project=project, building=building, floor=1, number="101", code="1-101",
                               property_type="low_rise", area=Decimal("81.30"), state="self")
    seller = Party.objects.create(name="甲业主", natural_key="f:seller")
    occupancy_start(actor=alice, unit=unit, party=seller, role=OccupantRole.OWNER, start=dt.date(2020, 1, 1))
    contact_add(actor=alice, party=seller, kind=ContactKind.MOBILE, value="13800000001",
                source=ContactSource.HANDOVER, is_primary=True)
    BillingPolicy.objects.create(project=project, cycle_months=1, due_day=15, late_fee_per_mille=Decimal("0.5"),
                                 late_fee_grace_days=5)
    seed_default_fee_items(project, effective_from=dt.date(2020, 1, 1), price_per_m2=Decimal("2.10"))
    return project, unit, seller


ledger = st.fixed_dictionaries({
    "per_mille": st.sampled_from(["0", "0.5", "1"]),
    "at_settlement": st.booleans(),
    "months": st.integers(3, 10),  # billed January … this month (October and later are not due on every day)
    "sale": st.one_of(st.none(), st.integers(2, 9)),  # the month the buyer's periods start
    "payments": st.lists(st.tuples(st.integers(1, 9), st.integers(1, 28), st.integers(1, 60_000)), max_size=4),
    "charge": st.one_of(st.none(), st.integers(3, 9)),  # a manager charges the late fee at this month's end
    "after_run": st.one_of(st.none(), st.just("all"), st.integers(1, 60_000)),  # money between run and print
    "print_day": st.sampled_from(PRINT_DAYS),
})


def _sum(qs) -> int:
    return qs.aggregate(t=Sum("amount_fen"))["t"] or 0


def expected(unit, party, on: dt.date, clause: bool) -> tuple[int, int, list[str]]:
    """(matured unpaid principal, charged unpaid 违约金, periods YYYY-MM) of ``party`` on ``on``, from the ledger."""
    principal = fees = 0
    periods = set()
    for b in Bill.objects.filter(unit=unit, party=party, is_void=False):
        open_fen = (b.amount_fen - _sum(Allocation.objects.filter(bill=b))
                    - _sum(Adjustment.objects.filter(bill=b, status="approved")))
        if open_fen <= 0:
            continue
        if b.late_fee_of_id is None and b.due_date < on:
            principal += open_fen
            periods.add(f"{b.period_start:%Y-%m}")
        elif b.late_fee_of_id is not None and b.due_date <= on and clause:
            fees += open_fen
            periods.add(f"{b.period_start:%Y-%m}")
    return principal, fees, sorted(periods)


def build(case, alice, project, unit, seller):
    from wuye.estate.choices import ContactKind, ContactSource, OccupantRole
    from wuye.estate.models import Occupancy, Party
    from wuye.estate.services import contact_add, occupancy_end, occupancy_start

    BillingPolicy.objects.filter(project=project).update(late_fee_per_mille=Decimal(case["per_mille"]),
                                                         late_fee_charge_at_settlement=case["at_settlement"])
    buyer = None
    for month in range(1, case["months"] + 1):
        if case["sale"] == month:
            occupancy_end(actor=alice, occupancy=Occupancy.objects.get(unit=unit, party=seller),
                          end=dt.date(2026, month, 1) - dt.timedelta(days=1))
            buyer = Party.objects.create(name="乙买受人", natural_key="f:buyer")
            occupancy_start(actor=alice, unit=unit, party=buyer, role=OccupantRole.OWNER,
                            start=dt.date(2026, month, 1))
            contact_add(actor=alice, party=buyer, kind=ContactKind.MOBILE, value="13900000002",
                        source=ContactSource.OWNER, is_primary=True)
        bill_generate(actor=alice, project=project, period=dt.date(2026, month, 1))
    events = [("pay", dt.date(2026, m, d), fen) for m, d, fen in case["payments"]]
    if case["charge"]:
        events.append(("charge", dt.date(2026, case["charge"] + 1, 1) - dt.timedelta(days=1), 0))
    for kind, day, fen in sorted(events, key=lambda e: (e[1], e[0])):
        try:
            if kind == "pay":
                payment_record(actor=alice, unit=unit, amount_fen=fen, method="cash",
                               paid_at=dt.datetime(day.year, day.month, day.day, 10, 0, tzinfo=CST))
            else:
                late_fee_post(actor=alice, unit=unit, as_of=day, reason="经理计收")
        except ValidationError:
            pass  # nothing to charge (no clause, or nothing overdue): the ledger stays as it was
    return [p for p in (seller, buyer) if p is not None and Bill.objects.filter(unit=unit, party=p).exists()]


# bounded: 60 ledgers, no shrinking (a failure prints the whole case, which is small already)
@settings(max_examples=60, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=ledger)
def test_every_document_reconciles_with_the_ledger(case, alice, one_unit, tmp_path):
    project, unit, seller = one_unit
    sid = transaction.savepoint()
    try:
        _check(case, alice, project, unit, seller, tmp_path)
    finally:
        transaction.savepoint_rollback(sid)


def _check(case, alice, project, unit, seller, tmp_path):
    parties = build(case, alice, project, unit, seller)
    clause = Decimal(case["per_mille"]) > 0
    # the run decides a demand for each debtor with something overdue on its day
    debtors = [p for p in parties if expected(unit, p, RUN, clause)[0] > 0]
    actions = {p.pk: {code: make_action(unit, code, RUN, party=p)
                      for code in ("overdue_sms", "notice_2", "registered_letter", "referral")} for p in debtors}
    when = case["print_day"]
    if case["after_run"] is not None:  # money received between the run and the day the documents are made
        open_fen = sum(b.open_fen for b in Bill.objects.filter(unit=unit, is_void=False))
        amount = open_fen if case["after_run"] == "all" else case["after_run"]
        if amount > 0:
            payment_record(actor=alice, unit=unit, amount_fen=amount, method="cash",
                           paid_at=dt.datetime(RUN.year, RUN.month, RUN.day + 2, 10, 0, tzinfo=CST))
    dispatch_on(when)
    names = {p.pk: p.name for p in parties}
    for p in debtors:
        principal, fees, periods = expected(unit, p, when, clause)
        total, settled = principal + fees, principal == 0
        others = [n for pk, n in names.items() if pk != p.pk]
        # the SMS, as sent
        sms = reload(actions[p.pk]["overdue_sms"])
        if settled:
            assert sms.status == "cancelled", (case, sms.content)
        elif sms.status == "sent":
            assert f"共 {format_yuan(total)} " in sms.content, (case, sms.content, total)
            assert f"有 {len(periods)} 期费用" in sms.content, (case, sms.content, periods)
            assert sorted(f"{x[:7]}" for x in sms.periods) == periods
        if not clause:
            assert "违约金" not in sms.content
        # the notice and the registered letter, printed on the day
        written = [reload(actions[p.pk][c]) for c in ("notice_2", "registered_letter")]
        written = [a for a in written if a.status != "cancelled" or settled]  # what the print page lists
        pdf = notices_pdf(written, as_of=when)
        if settled:
            assert pdf == b"", case
            assert all(reload(a).status == "cancelled" for a in written)
        elif written:
            pages = parse_pages(pdf_text(pdf, tmp_path, f"n{p.pk}.pdf"))
            assert len(pages) == len(written)
            for page in pages:
                _reconciles(page, total, periods, when, clause, others, case)
        # the referral draft
        referral = reload(actions[p.pk]["referral"])
        if settled:
            with pytest.raises(Settled):
                referral_draft_pdf(referral, as_of=when)
        else:
            page = parse_page(pdf_text(referral_draft_pdf(referral, as_of=when), tmp_path, f"r{p.pk}.pdf"))
            _reconciles(page, total, periods, when, clause, others, case, said=NO_CLAUSE_NOTE)
    # the statement of every party of the unit (debtor or not)
    for p in parties:
        principal, fees, periods = expected(unit, p, when, clause)
        page = parse_page(pdf_text(statement_pdf(unit, statement_for_unit(unit, as_of=when), party_id=p.pk),
                                   tmp_path, f"s{p.pk}.pdf"))
        assert page.total_fen == principal + fees, (case, page.text)
        assert upper_to_fen(page.upper) == page.total_fen and page.prefixes == 1
        assert page.columns_add_up() == [], (case, page.text)
        mine = {f"{b.period_start:%Y-%m}" for b in Bill.objects.filter(unit=unit, party=p)}
        assert set(page.periods) <= mine
        assert not [n for pk, n in names.items() if pk != p.pk and n in page.text]
    assert not Action.objects.filter(status="sent", content__contains="¥0.00 ").exists()


NO_CLAUSE_NOTE = "物业服务合同未约定违约金，不主张违约金。"  # the referral tells the law firm so


def _reconciles(page, total: int, periods: list[str], when: dt.date, clause: bool, others: list[str], case,
                said: str = "") -> None:
    assert page.total_fen == total, (case, page.text)
    assert upper_to_fen(page.upper) == total and page.prefixes == 1, (case, page.upper)
    assert "人民币人民币" not in page.flat
    assert page.columns_add_up() == [], (case, page.text)
    assert page.periods == periods, (case, page.periods, periods)
    for row in page.rows:  # the first date of a row is its due date: nothing not yet due
        assert row.dates and dt.date.fromisoformat(row.dates[0]) <= when, (case, row)
    assert not [n for n in others if n in page.text], case
    if not clause:
        assert not re.search("违约金|滞纳金", page.flat.replace(said, "")), (case, page.text)
