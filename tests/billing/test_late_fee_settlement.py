"""Late fees charged automatically when a payment settles overdue principal (项目设置“结清本金时自动计收违约金”).

The test estate's terms: 0.5‰ a day, 5 grace days, due on the 15th; one line of the amount under test, due
2026-03-15, so interest runs from 2026-03-21 and stops the day the money arrives (that day not counted).
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from wuye.billing.bulk import PaymentDraft, payments_record_bulk
from wuye.billing.choices import FeeKind, Pricing
from wuye.billing.disputes import lines_mark
from wuye.billing.ledger import check_ledger
from wuye.billing.models import Adjustment, Allocation, Bill, BillingPolicy, FeeItem, Payment
from wuye.billing.selectors import account_summaries, statement_for_unit
from wuye.billing.services import bill_apportion, late_fee_post, payment_record, payment_reverse

D = dt.date


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day, hour))


@pytest.fixture
def line(alice, billed_estate):
    """make(amount_fen) → one open line of the first unit, due 2026-03-15; the project charges at settlement."""
    project = billed_estate["project"]
    BillingPolicy.objects.filter(project=project).update(late_fee_charge_at_settlement=True)
    item = FeeItem.objects.create(project=project, code="GTS", name="公摊水费", kind=FeeKind.SHARED_WATER,
                                  pricing=Pricing.ENTERED, sort=5)
    unit = billed_estate["units"][0]

    def make(amount_fen: int, *, cap: Decimal | None = None, disputed_since: dt.date | None = None) -> Bill:
        BillingPolicy.objects.filter(project=project).update(late_fee_cap_percent=cap)
        bill_apportion(actor=alice, project=project, fee_item=item, period=D(2026, 3, 1), total_fen=amount_fen,
                       unit_ids=[unit.pk])
        bill = Bill.objects.get(unit=unit, fee_item=item)
        assert bill.due_date == D(2026, 3, 15)
        if disputed_since:  # as casework records a dispute on the line
            lines_mark(unit=unit, bill_ids=[bill.pk], on=disputed_since, dispute_ref=None, actor=alice)
            bill.refresh_from_db()
        return bill

    return make


def _fees(bill: Bill) -> list[Bill]:
    return list(Bill.objects.filter(late_fee_of=bill).order_by("id"))


# amount, payments (day, fen), cap %, disputed since, late fee charged (fen), why
CASES = [
    (100_000, [(D(2026, 4, 30), 100_000)], None, None, 2_000,
     "1,000.00 paid 46 days after the due date: 45 days overdue − 5 grace = 40 days × 0.5‰ = 20.00"),
    (100_000, [(D(2026, 3, 20), 100_000)], None, None, 0, "settled within the grace days: no fee"),
    (100_000, [(D(2026, 3, 21), 100_000)], None, None, 0, "paid on the first day that would count: no fee"),
    (100_000, [(D(2026, 3, 22), 100_000)], None, None, 50, "one day: 1,000.00 × 0.5‰ = 0.50"),
    (100_000, [(D(2026, 4, 5), 50_000), (D(2026, 4, 30), 50_000)], None, None, 1_375,
     "half paid on 4-05: 15 days on 1,000.00 (7.50) + 25 days on 500.00 (6.25); charged by the settling payment"),
    (17_900, [(D(2026, 3, 28), 17_900)], None, None, 63,
     "179.00 × 0.5‰ × 7 days = 0.6265 yuan → 63 fen (rounded once, half away from zero)"),
    (100_000, [(D(2026, 11, 30), 100_000)], Decimal("5"), None, 5_000,
     "254 days would be 127.00; the 5 % cap gives 50.00"),
    (100_000, [(D(2026, 4, 30), 100_000)], None, D(2026, 3, 18), 0, "disputed before the grace ran out: no fee"),
    (100_000, [(D(2026, 4, 30), 100_000)], None, D(2026, 4, 1), 550,
     "disputed from 4-01: only 3-21 … 3-31 count, 11 days = 5.50"),
]


@pytest.mark.parametrize(("amount", "payments", "cap", "disputed", "fee", "why"), CASES,
                         ids=[c[-1][:40] for c in CASES])
def test_worked_cases(alice, line, amount, payments, cap, disputed, fee, why):
    bill = line(amount, cap=cap, disputed_since=disputed)
    for n, (day, fen) in enumerate(payments):
        payment_record(actor=alice, unit=bill.unit, amount_fen=fen, method="cash", paid_at=at(day), note=str(n))
    fees = _fees(bill)
    assert sum(b.amount_fen for b in fees) == fee, why
    if fee:
        [charged] = fees
        last = Payment.objects.order_by("-id").first()
        assert charged.charged_with == last and charged.due_date == payments[-1][0]
        assert charged.fee_item.kind == FeeKind.LATE_FEE and charged.rule.startswith("结清时计收公摊水费违约金")
        # the statement shows the fee as charged: nothing more accrues on the settled line
        assert statement_for_unit(bill.unit, as_of=D(2026, 12, 1)).late_fee_fen == 0
    assert check_ledger().mismatches == 0


def test_off_by_default_the_manager_still_posts_it(alice, line):
    bill = line(100_000)
    BillingPolicy.objects.filter(project=bill.project).update(late_fee_charge_at_settlement=False)
    payment_record(actor=alice, unit=bill.unit, amount_fen=100_000, method="cash", paid_at=at(D(2026, 4, 30)))
    assert _fees(bill) == []
    [posted] = late_fee_post(actor=alice, unit=bill.unit, as_of=D(2026, 5, 1), reason="业主结清时一并收取")
    assert posted.amount_fen == 2_000 and posted.charged_with is None


def test_the_rest_of_the_payment_pays_the_fee_and_the_receipt_shows_it(alice, line, client):
    bill = line(100_000)
    payment = payment_record(actor=alice, unit=bill.unit, amount_fen=103_000, method="cash",
                             paid_at=at(D(2026, 4, 30)))
    [fee] = _fees(bill)
    fee.refresh_from_db()
    assert fee.settled_fen == 2_000
    assert sorted(Allocation.objects.filter(payment=payment).values_list("bill_id", "amount_fen")) == sorted(
        [(bill.pk, 100_000), (fee.pk, 2_000)])
    assert statement_for_unit(bill.unit, as_of=D(2026, 5, 1)).prepaid_fen == 1_000
    client.force_login(alice)
    page = client.get(f"/billing/payments/{payment.pk}/receipt/").content.decode()
    assert "违约金" in page and "20.00" in page and "结清时计收" in page and "10.00" in page  # 10.00 to prepaid
    from wuye.billing.documents import receipt_pdf

    assert receipt_pdf(payment).startswith(b"%PDF")


def test_charged_once_however_often_it_is_settled_or_posted(alice, line):
    bill = line(100_000)
    payment_record(actor=alice, unit=bill.unit, amount_fen=100_000, method="cash", paid_at=at(D(2026, 4, 30)))
    payment_record(actor=alice, unit=bill.unit, amount_fen=2_000, method="cash", paid_at=at(D(2026, 5, 10)))
    assert [b.amount_fen for b in _fees(bill)] == [2_000]
    with pytest.raises(Exception, match="没有可计收"):
        late_fee_post(actor=alice, unit=bill.unit, as_of=D(2026, 6, 1), reason="再收一次")
    assert check_ledger().mismatches == 0


def test_a_manager_posted_fee_is_not_charged_again_at_settlement(alice, line):
    bill = line(100_000)
    [posted] = late_fee_post(actor=alice, unit=bill.unit, as_of=D(2026, 4, 19), reason="先计收")
    assert posted.amount_fen == 1_500  # 30 days, 3-21 … 4-19
    payment_record(actor=alice, unit=bill.unit, amount_fen=100_000, method="cash", paid_at=at(D(2026, 4, 30)))
    # only the 10 days since: 500 fen more
    assert [b.amount_fen for b in _fees(bill)] == [1_500, 500]


def test_a_reversal_voids_the_fee_it_charged_and_a_later_settlement_charges_afresh(alice, line):
    bill = line(100_000)
    bounced = payment_record(actor=alice, unit=bill.unit, amount_fen=101_000, method="transfer", reference="T1",
                             paid_at=at(D(2026, 4, 30)))
    [fee] = _fees(bill)
    payment_reverse(actor=alice, payment=bounced, reason="退票")
    fee.refresh_from_db()
    assert fee.is_void
    void = Adjustment.objects.get(bill=fee, kind="void")
    assert bounced.receipt_no in void.reason and "退票" in void.reason
    assert void.decided_by == alice
    bill.refresh_from_db()
    assert bill.settled_fen == 0  # the principal is open again
    payment_record(actor=alice, unit=bill.unit, amount_fen=100_000, method="cash", paid_at=at(D(2026, 5, 10)))
    fees = [b for b in _fees(bill) if not b.is_void]
    assert [b.amount_fen for b in fees] == [2_500]  # 50 days to 5-10, the bounced money never counted
    assert check_ledger().mismatches == 0


def test_the_bulk_service_charges_as_payment_record_does(alice, line):
    from django.db import transaction

    bill = line(100_000)
    unit = bill.unit
    drafts = [(D(2026, 4, 5), 50_000), (D(2026, 4, 30), 60_000), (D(2026, 5, 2), 3_000)]
    sid = transaction.savepoint()
    for n, (day, fen) in enumerate(drafts):
        payment_record(actor=alice, unit=unit, amount_fen=fen, method="transfer", reference=f"A{n}", paid_at=at(day))

    def state():
        return sorted((a.payment.amount_fen, a.bill.fee_item.code, a.bill.amount_fen, a.amount_fen, a.applied_on)
                      for a in Allocation.objects.select_related("payment", "bill__fee_item"))

    one_by_one = state()
    transaction.savepoint_rollback(sid)
    posted, refused = payments_record_bulk(
        actor=None, actor_label="银行对账单#7", project=unit.project, method="transfer",
        drafts=[PaymentDraft(n, unit.pk, fen, at(day), "", f"B{n}", "") for n, (day, fen) in enumerate(drafts)])
    assert not refused and state() == one_by_one
    [fee] = _fees(bill)
    assert fee.amount_fen == 1_375 and fee.charged_with == posted[1] and fee.settled_fen == 1_375
    assert fee.charged_with.actor_label == "银行对账单#7"
    assert check_ledger().mismatches == 0


def test_a_charged_fee_alone_does_not_make_the_payer_a_debtor(alice, line):
    bill = line(100_000)
    payment_record(actor=alice, unit=bill.unit, amount_fen=100_000, method="cash", paid_at=at(D(2026, 4, 30)))
    # the 20.00 fee stays open; the next day the unit is not in arrears for dunning
    assert list(account_summaries(as_of=D(2026, 5, 20), unit_ids=[bill.unit_id])) == []
    [s] = account_summaries(as_of=D(2026, 5, 20), unit_ids=[bill.unit_id], only_overdue=False)
    assert (s.overdue_fen, s.oldest_due, s.overdue_periods, s.upcoming_fen) == (0, None, 0, 0)
    assert s.open_fen == 2_000 and s.late_fee_fen == 2_000


def test_the_statement_summarises_late_fees_in_one_block_with_each_calculation_behind_it(alice, line, client,
                                                                                         tmp_path):
    from wuye.billing.documents import statement_pdf
    from wuye.billing.services import bill_generate

    bill = line(100_000)
    bill_generate(actor=alice, project=bill.project, period=D(2026, 4, 1))  # 物业服务费 179.00 due 4-15
    payment_record(actor=alice, unit=bill.unit, amount_fen=100_000, method="cash", paid_at=at(D(2026, 4, 30)))
    statement = statement_for_unit(bill.unit, as_of=D(2026, 6, 1))
    block = statement.late_fee_block
    # 4-15 + 5 grace: 4-21 … 6-01 is 42 days on 179.00 at 0.5‰ = 3.759 → 376 fen, not charged yet
    assert (block.accrued_fen, block.charged_fen, block.charged_open_fen, block.uncharged_fen) == (
        2_000 + 376, 2_000, 2_000, 376)
    assert [ln.bill.late_fee_of_id for ln in block.charged] == [bill.pk]
    assert all(ln.bill.late_fee_of_id is None for ln in statement.principal_lines)
    client.force_login(alice)
    page = client.get(f"/billing/units/{bill.unit_id}/").content.decode()
    table = page.split('data-testid="statement-lines"')[1].split("</table>")[0]
    assert "结清时计收" not in table and "‰" not in table  # no fee rows and no calculations in the main table
    assert page.count('data-testid="late-fee-block"') == 1
    details = page.split('data-testid="late-fee-details"')[1].split("</table>")[0]
    assert "结清时计收公摊水费违约金" in details and "0.5‰" in details
    from tests.billing.test_documents import pdf_text

    text = pdf_text(statement_pdf(bill.unit, statement), tmp_path)
    assert "按合同计至对账日" in text and "违约金计算（逐期）" in text
